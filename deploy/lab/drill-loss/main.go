// Command drill-loss runs the lab's loss drill (package lab, deploy/lab):
// the multi-host topology in network namespaces, the real tickcast daemons
// and Prometheus, and the fault; it prints progress on stderr and a JSON
// report on stdout, and exits 0 on PASS, 1 on FAIL, 2 if the lab could not
// run. As root:
//
//	go run ./deploy/lab/drill-loss [--rate 30000] [--duration 20s] [--keep]
package main

import "github.com/tickcast/tickcast/deploy/lab"

func main() { lab.Main(lab.Loss) }

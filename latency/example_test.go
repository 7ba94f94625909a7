package latency_test

import (
	"fmt"
	"os"
	"time"

	"github.com/tickcast/tickcast/latency"
)

func Example() {
	r := latency.NewRecorder(time.Second)
	for us := 1; us <= 10_000; us++ {
		r.Record(time.Duration(us) * time.Microsecond)
	}
	r.Record(-time.Millisecond) // clock skew: recorded as 0, counted
	fmt.Println(r.Summary())
	// Output: n=10001 p50=5ms p90=9ms p99=9.9ms p99.9=9.99ms p99.99=10ms max=10ms negative=1
}

func ExampleRecorder_Interval() {
	r := latency.NewRecorder(time.Second)
	total := latency.NewRecorder(time.Second)
	for second := range 3 {
		for range 100 * (second + 1) {
			r.Record(time.Duration(second+1) * time.Millisecond)
		}
		iv := r.Interval() // what was recorded this second; r starts afresh
		total.Merge(iv)
		fmt.Println(iv.Summary().Count, iv.Summary().Max)
	}
	fmt.Println(total.Summary())
	// Output:
	// 100 1ms
	// 200 2ms
	// 300 3ms
	// n=600 p50=2ms p90=3ms p99=3ms p99.9=3ms p99.99=3ms max=3ms
}

func ExampleRecorder_WriteHgrm() {
	r := latency.NewRecorder(time.Second)
	r.Record(250 * time.Microsecond) // written as the top of its histogram range, within 0.1%
	if err := r.WriteHgrm(os.Stdout, time.Microsecond); err != nil {
		fmt.Println(err)
	}
	// Output:
	//  Value	Percentile	TotalCount	1/(1-Percentile)
	//
	//      250.111     0.000000            1         1.00
	//      250.111     1.000000            1          inf
	// #[Mean    =      250.048, StdDeviation   =        0.000]
	// #[Max     =      250.111, Total count    =            1]
	// #[Buckets =           20, SubBuckets     =         2048]
}

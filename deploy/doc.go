// Package deploy holds what runs tickcast on bare metal, as files rather
// than code: systemd units (systemd/), kernel settings (sysctl/), example
// configuration files for each role (config/), the Prometheus scrape
// configuration, alerting and recording rules with their unit tests
// (prometheus/) and a Grafana dashboard (grafana/).
//
// The package itself is only its tests: they run promtool on the Prometheus
// files, systemd-analyze on the units (each skipped, saying what to install,
// when the tool is missing), check that every setting in the sysctl file is
// explained and exists, and that every metric the rules and the dashboard
// use is a family the metrics package describes, or a recording rule.
package deploy

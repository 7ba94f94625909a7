// Package config reads a daemon's TOML configuration file onto the flag set
// of its command, so that a file and a command line say the same things in
// the same words.
//
// A file is flat: every key is the name of one of the command's flags
// (without the dashes), and one key, role, names the command the file is
// for. Flags given on the command line win over the file. Reading is
// strict: an unknown key, a value of the wrong TOML type or a value the flag
// refuses is an error naming the file, the line and the key.
//
//	role = "publish"
//	a = "239.255.0.1:31001"
//	a-iface = "eth1"
//	ttl = 1
//	heartbeat = "100ms"
//	retransmit-allow = ["10.0.0.0/8"]
//
// Durations are strings ("100ms"). A flag that takes a comma-separated
// list takes a TOML array of strings, or the list as one string.
package config

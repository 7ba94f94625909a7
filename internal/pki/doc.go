// Package pki is the operator's certificate authority for the QUIC link
// (DESIGN.md, "The QUIC link" and "Security and abuse").
//
// Every link end presents a certificate issued by the operator's CA and
// trusts only that CA: a publisher or hub relay requires client certificates,
// an edge relay or remote subscriber verifies the server it dials. This package
// creates a development CA and certificates on disk ([WriteDevCA],
// [IssueCert]), builds the matching TLS configurations ([ServerTLS],
// [ClientTLS]), and offers an in-memory [TestPKI] with a second, foreign CA so
// tests can check that strangers are refused.
//
// Keys are ECDSA P-256. Leaf certificates carry both server and client
// authentication usages, so one certificate serves a relay that is a link
// client upstream and a link server downstream.
package pki

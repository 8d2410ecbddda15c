// Package cluster holds the distributed tier (docs/cluster.md): central
// servers with their node hub, and PBX nodes linked to them over mutual
// TLS. Its code is split by side, each package with one job:
//
//   - wire: what both sides speak, the messages of the gRPC service
//     entvoice.cluster.v1.Hub, their codec and service descriptor, and the
//     compact form of bus events. It imports neither side.
//   - pki: the cluster CA and what it issues, enrolment tokens, the TLS
//     checks of both sides, and a node's identity on disk.
//   - hub: central's side. The hub (enrolment, one stream per node), the
//     registry of nodes and tokens in central's store, Remote (the
//     control.Controller over the links), CDR intake, and the exchange
//     between central instances.
//   - link: the node's side. Join (enrolment), the Link (the replica of
//     central's configuration, CDR shipping, events up, central's commands
//     run, certificate renewal) and PeerTrust (the TLS between nodes).
//   - pending and backoff: the request/reply table and the reconnect
//     back-off both sides use.
//   - clustertest: hubs and links for tests.
//
// A node compiles link, never hub, and the API knows the nodes only
// through internal/control (internal/system's TestLayers checks both).
package cluster

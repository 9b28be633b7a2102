//! One ICMP echo (ping) from the host, IPv4 or IPv6, without a `ping` binary (CI hosts and
//! slim images often have none).
//!
//! Linux offers two kinds of ICMP socket, tried in this order:
//! 1. **Datagram** (`socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`, the "ping socket"): needs no
//!    privilege, only that the process's group is in `net.ipv4.ping_group_range` (which also
//!    governs ICMPv6). The kernel sets the echo identifier, fills the checksum and delivers
//!    only this socket's replies, without the IP header.
//! 2. **Raw** (`SOCK_RAW`): needs root or CAP_NET_RAW. It sees every ICMP message the host
//!    receives — other pings' replies, our own request on loopback — so replies are matched by
//!    identifier, sequence number and a random payload. Raw IPv4 sockets deliver the IP header
//!    (skipped by its length field); raw IPv6 sockets deliver the ICMPv6 message alone and the
//!    kernel computes the ICMPv6 checksum.
//!
//! Neither allowed → [`PingError::NotPermitted`], which says how to allow one. Sockets are
//! connected to the target, so the kernel drops packets from other sources.
//!
//! No route from this host is [`PingError::Unreachable`]. ICMP errors coming back (destination
//! unreachable, administratively prohibited, time exceeded) are ignored and the result is a
//! timeout: the question is only whether an echo reply came, and firewalls differ in whether
//! they reject or drop, so reporting rejections would make the same check fail differently on
//! different hosts.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

/// How to let kdc ping, for [`PingError::NotPermitted`].
const HOW_TO_ALLOW: &str = "run kdc as root (or give it CAP_NET_RAW: `setcap cap_net_raw+ep \
     $(command -v kdc)`), or allow unprivileged ping sockets for all groups: \
     `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`";

/// Why a ping got no reply.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// Neither a datagram nor a raw ICMP socket may be opened by this process.
    #[error("cannot ping {addr}: {reason}; to allow it, {HOW_TO_ALLOW}")]
    NotPermitted { addr: IpAddr, reason: String },
    /// No echo reply within the timeout.
    #[error("no echo reply from {addr} within {}s", timeout.as_secs_f64())]
    Timeout { addr: IpAddr, timeout: Duration },
    /// This host has no route to `addr`.
    #[error(
        "cannot ping {addr}: no route from this host (check its routes: `ip route get {addr}`)"
    )]
    Unreachable {
        addr: IpAddr,
        #[source]
        source: io::Error,
    },
    /// The socket could not be opened or used (IPv6 disabled on the host).
    #[error("cannot ping {addr}: {what}")]
    Io {
        addr: IpAddr,
        what: String,
        #[source]
        source: io::Error,
    },
}

/// The kind of ICMP socket, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Datagram,
    Raw,
}

/// Sends one echo request to `addr` and waits up to `timeout` for its reply; returns the
/// round-trip time.
pub async fn ping(addr: IpAddr, timeout: Duration) -> Result<Duration, PingError> {
    let (socket, kind) = open(addr, &[Kind::Datagram, Kind::Raw])?;
    let io_err = |what: &str| {
        let what = what.to_string();
        move |source: io::Error| match source.raw_os_error() {
            Some(libc::ENETUNREACH | libc::EHOSTUNREACH) => PingError::Unreachable { addr, source },
            _ => PingError::Io { addr, what, source },
        }
    };
    socket
        .connect(&SockAddr::from(SocketAddr::new(addr, 0)))
        .map_err(io_err("cannot connect the ICMP socket"))?;
    // SAFETY: the Socket owns its descriptor (an OwnedFd) and the AsyncFd owns the Socket, so
    // the descriptor stays open and the same for the AsyncFd's whole life.
    let socket = unsafe { AsyncFd::register(socket) }
        .map_err(|e| io_err("cannot register the ICMP socket")(e.into()))?;

    let echo = Echo::new();
    let request = echo.request(addr);
    let sent = Instant::now();
    socket
        .async_io(tokio::io::Interest::WRITABLE, |s| (&*s).write(&request))
        .await
        .map_err(io_err("cannot send the echo request"))?;

    let wait = async {
        let mut buf = [0u8; 1500];
        loop {
            match socket
                .async_io(tokio::io::Interest::READABLE, |s| (&*s).read(&mut buf))
                .await
            {
                Ok(n) if echo.is_reply(addr, kind, &buf[..n]) => return Ok(sent.elapsed()),
                Ok(_) => {}
                // The kernel hands a connected socket the ICMP errors for its destination as
                // the next read's error; they are not replies (see the module docs).
                Err(e) if is_icmp_error(&e) => {}
                Err(e) => return Err(e),
            }
        }
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(Ok(rtt)) => Ok(rtt),
        Ok(Err(e)) => Err(io_err("cannot receive the echo reply")(e)),
        Err(_) => Err(PingError::Timeout { addr, timeout }),
    }
}

/// The first ICMP socket of `kinds` this process may open for `addr`'s family.
fn open(addr: IpAddr, kinds: &[Kind]) -> Result<(Socket, Kind), PingError> {
    let (domain, protocol) = match addr {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let mut refused = Vec::new();
    for &kind in kinds {
        let ty = match kind {
            Kind::Datagram => Type::DGRAM,
            Kind::Raw => Type::RAW,
        };
        match Socket::new(domain, ty, Some(protocol)) {
            Ok(s) => {
                s.set_nonblocking(true).map_err(|source| PingError::Io {
                    addr,
                    what: "cannot make the ICMP socket non-blocking".into(),
                    source,
                })?;
                return Ok((s, kind));
            }
            // EACCES: the group is outside ping_group_range; EPERM: no CAP_NET_RAW;
            // EPROTONOSUPPORT: a kernel without ping sockets.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EACCES | libc::EPERM | libc::EPROTONOSUPPORT)
                ) =>
            {
                refused.push(match kind {
                    Kind::Datagram => format!("a datagram ICMP socket was refused ({e})"),
                    Kind::Raw => format!("a raw ICMP socket was refused ({e})"),
                });
            }
            Err(source) => {
                return Err(PingError::Io {
                    addr,
                    what: format!(
                        "cannot open an ICMP socket for {} (is it enabled on this host?)",
                        if addr.is_ipv4() { "IPv4" } else { "IPv6" }
                    ),
                    source,
                });
            }
        }
    }
    Err(PingError::NotPermitted {
        addr,
        reason: refused.join(", "),
    })
}

/// Whether a read error is an ICMP error for the connected destination (Linux's
/// `icmp_err_convert` and `icmpv6_err_convert`).
fn is_icmp_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ENETUNREACH
                | libc::EHOSTUNREACH
                | libc::ECONNREFUSED
                | libc::ENOPROTOOPT
                | libc::EMSGSIZE
                | libc::EOPNOTSUPP
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EPROTO
                | libc::EACCES
        )
    )
}

/// One echo request's identity: what its reply must carry.
struct Echo {
    id: u16,
    seq: u16,
    payload: [u8; 16],
}

impl Echo {
    fn new() -> Echo {
        static SEQ: AtomicU16 = AtomicU16::new(0);
        // RandomState is randomly keyed: a cheap random number without a crate.
        let random = RandomState::new().build_hasher().finish().to_be_bytes();
        let mut payload = *b"kdc-ping\0\0\0\0\0\0\0\0";
        payload[8..].copy_from_slice(&random);
        Echo {
            id: std::process::id() as u16 ^ u16::from_be_bytes([random[0], random[1]]),
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            payload,
        }
    }

    /// The ICMP (or ICMPv6) echo request. The IPv4 checksum is ours to fill on raw sockets
    /// (the kernel fills it on datagram sockets anyway); the ICMPv6 one is always the kernel's,
    /// since it covers the IPv6 pseudo-header.
    fn request(&self, addr: IpAddr) -> Vec<u8> {
        let ty = if addr.is_ipv4() { 8 } else { 128 };
        let mut p = vec![ty, 0, 0, 0];
        p.extend(self.id.to_be_bytes());
        p.extend(self.seq.to_be_bytes());
        p.extend(self.payload);
        if addr.is_ipv4() {
            let sum = checksum(&p);
            p[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        p
    }

    /// Whether `packet`, as read from a `kind` socket, is the reply to this request. Datagram
    /// sockets carry the kernel's identifier, so only the sequence and payload are compared.
    fn is_reply(&self, addr: IpAddr, kind: Kind, packet: &[u8]) -> bool {
        let icmp = match (addr, kind) {
            (IpAddr::V4(_), Kind::Raw) => {
                let header = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
                if header < 20 || packet.get(9) != Some(&1) {
                    return false;
                }
                &packet[header.min(packet.len())..]
            }
            _ => packet,
        };
        let reply_type = if addr.is_ipv4() { 0 } else { 129 };
        icmp.len() == 8 + self.payload.len()
            && icmp[0] == reply_type
            && icmp[1] == 0
            && (kind == Kind::Datagram || icmp[4..6] == self.id.to_be_bytes())
            && icmp[6..8] == self.seq.to_be_bytes()
            && icmp[8..] == self.payload
    }
}

/// The Internet checksum (RFC 1071) of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether this process may open some ICMP socket: CAP_NET_RAW (root has it unless a
    /// container dropped it), or its group inside net.ipv4.ping_group_range.
    fn may_ping() -> bool {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let cap_net_raw = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|caps| caps & (1 << 13) != 0);
        cap_net_raw || group_may_ping()
    }

    fn group_may_ping() -> bool {
        let range =
            std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
        let bounds: Vec<u32> = range
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        // SAFETY: getgid cannot fail.
        let gid = unsafe { libc::getgid() };
        matches!(bounds[..], [lo, hi] if lo <= gid && gid <= hi)
    }

    async fn ping_loopback(addr: &str) {
        let addr: IpAddr = addr.parse().unwrap();
        let timeout = Duration::from_secs(2);
        match ping(addr, timeout).await {
            Ok(rtt) => {
                assert!(may_ping(), "pinged {addr} without permission?");
                assert!(rtt < timeout, "{rtt:?}");
            }
            Err(e @ PingError::NotPermitted { .. }) => {
                assert!(!may_ping(), "allowed to ping, yet: {e}");
                let msg = e.to_string();
                assert!(msg.contains("ping_group_range=\"0 2147483647\""), "{msg}");
                assert!(msg.contains("root"), "{msg}");
            }
            Err(e) => panic!("ping {addr}: {e} ({e:?})"),
        }
    }

    #[tokio::test]
    async fn ping_ipv4_loopback() {
        ping_loopback("127.0.0.1").await;
    }

    #[tokio::test]
    async fn ping_ipv6_loopback() {
        ping_loopback("::1").await;
    }

    /// Many pings at once on raw sockets, which see each other's replies: each must take its
    /// own.
    #[tokio::test]
    async fn concurrent_pings_take_their_own_replies() {
        if !may_ping() {
            return; // ping_ipv4_loopback covers the refusal
        }
        let pings = (0..20).map(|i| {
            let addr: IpAddr = if i % 2 == 0 { "127.0.0.1" } else { "::1" }
                .parse()
                .unwrap();
            tokio::spawn(ping(addr, Duration::from_secs(2)))
        });
        for p in pings {
            p.await.unwrap().unwrap();
        }
    }

    /// An address nobody answers: TEST-NET-3 (RFC 5737). Not TEST-NET-1 (192.0.2.0/24): some
    /// hosts, kdc's own build host among them, use it as a real network.
    #[tokio::test]
    async fn an_unanswered_ping_times_out_on_time() {
        let addr: IpAddr = "203.0.113.1".parse().unwrap();
        let timeout = Duration::from_millis(500);
        let started = Instant::now();
        match ping(addr, timeout).await {
            Err(PingError::Timeout {
                addr: a,
                timeout: t,
            }) => {
                assert_eq!((a, t), (addr, timeout));
                let took = started.elapsed();
                assert!(
                    took >= timeout && took < timeout + Duration::from_millis(500),
                    "{took:?}"
                );
            }
            Err(PingError::NotPermitted { .. }) if !may_ping() => {}
            Err(e @ PingError::Unreachable { .. }) => {
                panic!("{e}: this test needs a host with a default route (any CI runner has one)")
            }
            other => panic!("expected a timeout from {addr}, got {other:?}"),
        }
    }

    #[test]
    fn a_datagram_socket_needs_the_group_in_ping_group_range() {
        let addr: IpAddr = "127.0.0.1".parse().unwrap();
        match open(addr, &[Kind::Datagram]) {
            Ok(_) => assert!(group_may_ping()),
            Err(e @ PingError::NotPermitted { .. }) => {
                assert!(!group_may_ping(), "{e}");
                let msg = e.to_string();
                assert!(
                    msg.starts_with("cannot ping 127.0.0.1: a datagram ICMP socket was refused"),
                    "{msg}"
                );
                assert!(msg.contains("sysctl -w net.ipv4.ping_group_range"), "{msg}");
            }
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn replies_are_matched_by_identifier_sequence_and_payload() {
        let echo = Echo::new();
        let v4: IpAddr = "192.0.2.9".parse().unwrap();
        let mut reply = echo.request(v4);
        reply[0] = 0;
        assert!(echo.is_reply(v4, Kind::Datagram, &reply));
        // A raw IPv4 socket delivers the IP header first (20 bytes, protocol 1).
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1];
        ip.resize(20, 0);
        ip.extend(&reply);
        assert!(echo.is_reply(v4, Kind::Raw, &ip));
        assert!(!echo.is_reply(v4, Kind::Raw, &reply), "header missing");
        // Our own request, seen on loopback by a raw socket, is not a reply.
        assert!(!echo.is_reply(v4, Kind::Datagram, &echo.request(v4)));
        // Another ping's reply: other identifier (raw only), sequence or payload.
        let mut other_id = ip.clone();
        other_id[24] ^= 1;
        assert!(!echo.is_reply(v4, Kind::Raw, &other_id));
        let mut other_seq = reply.clone();
        other_seq[7] ^= 1;
        assert!(!echo.is_reply(v4, Kind::Datagram, &other_seq));
        let mut other_payload = reply.clone();
        other_payload[23] ^= 1;
        assert!(!echo.is_reply(v4, Kind::Datagram, &other_payload));

        let v6: IpAddr = "2001:db8::9".parse().unwrap();
        let mut reply6 = echo.request(v6);
        assert_eq!(reply6[0], 128);
        reply6[0] = 129;
        assert!(echo.is_reply(v6, Kind::Raw, &reply6));
    }

    #[test]
    fn the_ipv4_checksum_verifies() {
        let p = Echo::new().request("192.0.2.9".parse().unwrap());
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert_eq!(checksum(&[0x45, 0x00, 0x00, 0x1c]), !0x451c);
    }
}

//! One DNS question to one name server, from the host.
//!
//! A check such as "does the cluster's bind9 answer AAAA for `ipv4only.kdc.test`" must ask that
//! server and nothing else: never the system resolver (`/etc/resolv.conf`, `/etc/hosts`, search
//! domains, `ndots`), which would hide a broken server behind a working one. So the name is made
//! fully qualified, the resolver is built from an explicit one-server configuration, caching and
//! the hosts file are off, and the lookup makes one attempt over UDP, switching to TCP only when
//! the answer comes back truncated (`attempts = 1`). Within that attempt hickory resends the
//! same UDP query when no reply has come (up to three times, at least 333 ms apart), so one
//! lost datagram does not fail a check; the resolver offers no switch for that, and nothing is
//! asked again once the timeout has passed.
//!
//! Built on hickory-resolver (≥ 0.26.1, which fixes RUSTSEC-2026-0118/0119/0120) rather than
//! on a hand-written exchange: it validates the reply (id, question, source) and handles the
//! TCP fallback.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

/// Which addresses to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 addresses (`A` records).
    A,
    /// IPv6 addresses (`AAAA` records).
    Aaaa,
}

impl Family {
    fn record_type(self) -> RecordType {
        match self {
            Family::A => RecordType::A,
            Family::Aaaa => RecordType::AAAA,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::A => "A",
            Family::Aaaa => "AAAA",
        })
    }
}

/// Why a lookup got no usable answer. A name that does not exist, or has no address of the
/// family asked for, is not an error: [`lookup`] returns no addresses.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error(
        "no answer from {server} for {name} {family} within {}s: check that a name server \
         listens there and that this host can reach it",
        timeout.as_secs_f64()
    )]
    Timeout {
        server: SocketAddr,
        name: String,
        family: Family,
        timeout: Duration,
    },
    /// The server answered with an error code (SERVFAIL, REFUSED, …).
    #[error("{server} answered {code} for {name} {family}")]
    Server {
        server: SocketAddr,
        name: String,
        family: Family,
        code: ResponseCode,
    },
    /// The exchange failed below DNS: nothing listens (ICMP port unreachable), no route, a
    /// malformed reply.
    #[error("cannot ask {server} for {name} {family}: {reason}")]
    Transport {
        server: SocketAddr,
        name: String,
        family: Family,
        reason: String,
    },
}

/// The `family` addresses of `name`, asked of `server` (port 53) only: one attempt, over UDP,
/// over TCP if the reply is truncated. A name that does not exist (NXDOMAIN) or has no such
/// address (NODATA) gives `Ok(vec![])`. `name` is taken as fully qualified: no search domain
/// is ever appended.
pub async fn lookup(
    server: IpAddr,
    name: &str,
    family: Family,
    timeout: Duration,
) -> Result<Vec<IpAddr>, LookupError> {
    lookup_at(SocketAddr::new(server, 53), name, family, timeout).await
}

/// [`lookup`] against a server on another port (a forwarded port, a test server).
pub async fn lookup_at(
    server: SocketAddr,
    name: &str,
    family: Family,
    timeout: Duration,
) -> Result<Vec<IpAddr>, LookupError> {
    let mut fqdn = Name::from_utf8(name).map_err(|e| LookupError::InvalidName {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    fqdn.set_fqdn(true);
    let transport = |reason: String| LookupError::Transport {
        server,
        name: name.to_string(),
        family,
        reason,
    };

    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.port();
    let config = ResolverConfig::from_parts(
        None,
        vec![],
        vec![NameServerConfig::new(server.ip(), true, vec![udp, tcp])],
    );
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.num_concurrent_reqs = 1;
    opts.try_tcp_on_error = false;
    let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .map_err(|e| transport(e.to_string()))?;

    let timed_out = || LookupError::Timeout {
        server,
        name: name.to_string(),
        family,
        timeout,
    };
    // The resolver keeps its own deadline; this one only guards against a bug there.
    let answer = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        resolver.lookup(fqdn, family.record_type()),
    )
    .await
    .map_err(|_| timed_out())?;
    match answer {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match (&r.data, family) {
                (RData::A(a), Family::A) => Some(IpAddr::V4(a.0)),
                (RData::AAAA(a), Family::Aaaa) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect()),
        Err(NetError::Dns(DnsError::NoRecordsFound(_))) => Ok(vec![]),
        Err(NetError::Dns(DnsError::ResponseCode(code))) => Err(LookupError::Server {
            server,
            name: name.to_string(),
            family,
            code,
        }),
        Err(NetError::Timeout) => Err(timed_out()),
        Err(NetError::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => Err(timed_out()),
        Err(e) => Err(transport(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Message, MessageType, OpCode};
    use hickory_resolver::proto::rr::Record;
    use hickory_resolver::proto::rr::rdata::{A, AAAA, SOA};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, UdpSocket};

    /// What the fake server does with a question.
    #[derive(Clone, Copy)]
    enum Reply {
        /// Answers from its zone (below); NXDOMAIN for other names.
        Zone,
        /// Never answers.
        Silent,
        /// Answers SERVFAIL.
        ServFail,
        /// Over UDP, an empty truncated reply; over TCP, the zone's answer.
        Truncated,
    }

    /// A name server on 127.0.0.1 (UDP and TCP, one port) serving `host.kdc.test` (A and AAAA)
    /// and `v4only.kdc.test` (A only), and recording the questions it was asked.
    struct FakeServer {
        addr: SocketAddr,
        asked: Arc<Mutex<Vec<Asked>>>,
    }

    /// A question the fake server got: name, type, and "udp" or "tcp".
    type Asked = (String, RecordType, &'static str);

    fn answer(query: &Message, reply: Reply, over: &'static str) -> Option<Message> {
        let q = query.queries.first()?.clone();
        let mut m = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
        m.metadata.recursion_desired = query.metadata.recursion_desired;
        m.add_query(q.clone());
        let name = q.name().to_ascii();
        let record = |data: RData| Record::from_rdata(q.name().clone(), 60, data);
        match reply {
            Reply::Silent => return None,
            Reply::ServFail => {
                m.metadata.response_code = ResponseCode::ServFail;
                return Some(m);
            }
            Reply::Truncated if over == "udp" => {
                m.metadata.truncation = true;
                return Some(m);
            }
            Reply::Zone | Reply::Truncated => {}
        }
        match (name.as_str(), q.query_type()) {
            ("host.kdc.test." | "v4only.kdc.test.", RecordType::A) => {
                m.add_answer(record(RData::A(A::new(198, 18, 0, 1))));
                m.add_answer(record(RData::A(A::new(198, 18, 0, 2))));
            }
            ("host.kdc.test.", RecordType::AAAA) => {
                m.add_answer(record(RData::AAAA(AAAA::new(
                    0xfd00, 0x198, 0x18, 0, 0, 0, 0, 1,
                ))));
            }
            ("v4only.kdc.test.", _) => {
                // NODATA: the name exists, without this type.
                m.add_authority(soa());
            }
            _ => {
                m.metadata.response_code = ResponseCode::NXDomain;
                m.add_authority(soa());
            }
        }
        Some(m)
    }

    /// The zone's SOA, which makes an empty answer a proper negative one.
    fn soa() -> Record {
        Record::from_rdata(
            Name::from_ascii("kdc.test.").unwrap(),
            60,
            RData::SOA(SOA::new(
                Name::from_ascii("ns.kdc.test.").unwrap(),
                Name::from_ascii("root.kdc.test.").unwrap(),
                1,
                3600,
                600,
                86400,
                60,
            )),
        )
    }

    impl FakeServer {
        async fn start(reply: Reply) -> FakeServer {
            // UDP and TCP on the same port: take a free UDP port, then its TCP twin (retrying in
            // the rare case that one is taken).
            let (udp, tcp) = loop {
                let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                    break (udp, tcp);
                }
            };
            let addr = udp.local_addr().unwrap();
            let asked = Arc::new(Mutex::new(Vec::new()));
            let record = |asked: &Arc<Mutex<Vec<_>>>, m: &Message, over| {
                if let Some(q) = m.queries.first() {
                    asked
                        .lock()
                        .unwrap()
                        .push((q.name().to_ascii(), q.query_type(), over));
                }
            };
            let log = asked.clone();
            tokio::spawn(async move {
                let mut buf = vec![0; 4096];
                while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    record(&log, &query, "udp");
                    if let Some(m) = answer(&query, reply, "udp") {
                        let _ = udp.send_to(&m.to_vec().unwrap(), from).await;
                    }
                }
            });
            let log = asked.clone();
            tokio::spawn(async move {
                while let Ok((mut conn, _)) = tcp.accept().await {
                    let mut len = [0; 2];
                    if conn.read_exact(&mut len).await.is_err() {
                        continue;
                    }
                    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
                    if conn.read_exact(&mut buf).await.is_err() {
                        continue;
                    }
                    let query = Message::from_vec(&buf).unwrap();
                    record(&log, &query, "tcp");
                    if let Some(m) = answer(&query, reply, "tcp") {
                        let bytes = m.to_vec().unwrap();
                        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                        framed.extend(bytes);
                        let _ = conn.write_all(&framed).await;
                    }
                }
            });
            FakeServer { addr, asked }
        }

        fn asked(&self) -> Vec<Asked> {
            self.asked.lock().unwrap().clone()
        }
    }

    const T: Duration = Duration::from_secs(5);

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[tokio::test]
    async fn a_and_aaaa_records_come_from_that_server_only() {
        let s = FakeServer::start(Reply::Zone).await;
        assert_eq!(
            lookup_at(s.addr, "host.kdc.test", Family::A, T)
                .await
                .unwrap(),
            ips(&["198.18.0.1", "198.18.0.2"])
        );
        assert_eq!(
            lookup_at(s.addr, "host.kdc.test.", Family::Aaaa, T)
                .await
                .unwrap(),
            ips(&["fd00:198:18::1"])
        );
        // One question each, for exactly the name given: no search domain, no retry.
        assert_eq!(
            s.asked(),
            vec![
                ("host.kdc.test.".to_string(), RecordType::A, "udp"),
                ("host.kdc.test.".to_string(), RecordType::AAAA, "udp"),
            ]
        );
    }

    #[tokio::test]
    async fn nxdomain_and_nodata_are_no_addresses() {
        let s = FakeServer::start(Reply::Zone).await;
        assert_eq!(
            lookup_at(s.addr, "missing.kdc.test", Family::A, T)
                .await
                .unwrap(),
            Vec::<IpAddr>::new()
        );
        assert_eq!(
            lookup_at(s.addr, "v4only.kdc.test", Family::Aaaa, T)
                .await
                .unwrap(),
            Vec::<IpAddr>::new()
        );
        assert_eq!(
            s.asked().len(),
            2,
            "no search domains, no retry: {:?}",
            s.asked()
        );
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout_naming_server_and_name() {
        let s = FakeServer::start(Reply::Silent).await;
        let timeout = Duration::from_millis(400);
        let started = Instant::now();
        let err = lookup_at(s.addr, "host.kdc.test", Family::A, timeout)
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, LookupError::Timeout { .. }), "{err:?}");
        assert!(
            took >= timeout && took < timeout + Duration::from_secs(1),
            "{took:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&s.addr.to_string()), "{msg}");
        assert!(msg.contains("host.kdc.test A"), "{msg}");
        assert!(
            s.asked().iter().all(|(_, _, over)| *over == "udp"),
            "no TCP after a UDP timeout: {:?}",
            s.asked()
        );
    }

    #[tokio::test]
    async fn a_truncated_reply_is_asked_again_over_tcp() {
        let s = FakeServer::start(Reply::Truncated).await;
        assert_eq!(
            lookup_at(s.addr, "host.kdc.test", Family::A, T)
                .await
                .unwrap(),
            ips(&["198.18.0.1", "198.18.0.2"])
        );
        let over: Vec<_> = s.asked().into_iter().map(|(_, _, o)| o).collect();
        assert_eq!(over, vec!["udp", "tcp"]);
    }

    #[tokio::test]
    async fn servfail_is_an_error_naming_the_code() {
        let s = FakeServer::start(Reply::ServFail).await;
        let err = lookup_at(s.addr, "host.kdc.test", Family::A, T)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                LookupError::Server {
                    code: ResponseCode::ServFail,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("host.kdc.test"), "{err}");
    }

    #[tokio::test]
    async fn an_invalid_name_is_rejected_before_asking() {
        let err = lookup("127.0.0.1".parse().unwrap(), "a..b", Family::A, T)
            .await
            .unwrap_err();
        assert!(matches!(err, LookupError::InvalidName { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("invalid DNS name \"a..b\""),
            "{err}"
        );
    }
}

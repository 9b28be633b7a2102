//! Address arithmetic on networks: host `n` of a network and per-node pod subnets.
//!
//! kubeadm-dind-cluster built addresses by editing text (strip a trailing `0`, append `n`;
//! append hex digits after `::`), which only worked for some prefixes (seed-spec §9.6). kdc adds
//! integers to the network address instead; for every prefix the original handled, the result is
//! the same address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Number of host bits of a network.
pub fn host_bits(net: &IpNet) -> u32 {
    u32::from(net.max_prefix_len() - net.prefix_len())
}

/// How many host parts `0..n` are usable: all of them in IPv6, all but the broadcast in IPv4.
pub fn usable_hosts(net: &IpNet) -> u128 {
    let bits = host_bits(net);
    let size = if bits >= 128 {
        u128::MAX
    } else {
        1u128 << bits
    };
    match net {
        IpNet::V4(_) => size.saturating_sub(1),
        IpNet::V6(_) => size,
    }
}

/// The address with host part `n` in `net` (`n` must be below [`usable_hosts`]).
pub fn host(net: &IpNet, n: u128) -> IpAddr {
    match net {
        IpNet::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4.network()) + n as u32)),
        IpNet::V6(v6) => IpAddr::V6(host6(v6, n)),
    }
}

/// [`host`] for an IPv6 network.
pub fn host6(net: &Ipv6Net, n: u128) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(net.network()) + n)
}

/// The pod subnet of node `node_id` (1 = master): the node ID in the 8 bits after the pod CIDR's
/// prefix. For the original's only IPv4 size, /16, that is `<a>.<b>.<id>.0/24`; for IPv6
/// `fd00:40::/72` it is `fd00:40::<id>:0:0:0/80` (the original's `fd00:40:0:0:<id>::/80`).
pub fn node_pod_subnet(pod: &IpNet, node_id: u16) -> IpNet {
    let id = u128::from(node_id);
    match pod {
        IpNet::V4(v4) => {
            let len = v4.prefix_len() + 8;
            let base = u32::from(v4.network()) + ((id as u32) << (32 - u32::from(len)));
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base), len).expect("valid prefix"))
        }
        IpNet::V6(v6) => {
            let len = v6.prefix_len() + 8;
            let base = u128::from(v6.network()) + (id << (128 - u32::from(len)));
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(base), len).expect("valid prefix"))
        }
    }
}

//! The data path: TCP and HTTP proxying, connection dispatch to servers,
//! reuse of keep-alive connections and inactivity timeouts. This is the driver half of
//! ha-lb; the decisions it applies (which pool, which server) come from
//! [`acl`](crate::acl) and [`balance`](crate::balance).

pub(crate) mod dispatch;
pub(crate) mod errors;
pub(crate) mod http;
pub mod idle;
pub(crate) mod keepalive;
pub(crate) mod message;
pub(crate) mod tcp;
pub(crate) mod timed;
pub(crate) mod upgrade;

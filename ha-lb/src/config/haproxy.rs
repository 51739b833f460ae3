//! Import of haproxy.cfg into [`Config`](super::Config): being written.

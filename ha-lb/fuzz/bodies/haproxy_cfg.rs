//! haproxy.cfg: arbitrary text through the importer; a configuration it
//! accepts through the checks `ha-lb -c` makes, each frontend's ACLs
//! compiled and a request from the input routed through them. It must
//! never panic.

use std::path::Path;

use ha_lb::LoadBalancer;
use ha_lb::acl::{Request, Routing};
use ha_lb::config::haproxy;
use http::HeaderMap;
use http::header::{HOST, HeaderValue};

/// `text \0 probe`: the configuration, then the request routed: its
/// method, target, Host and source address on four lines.
pub fn run(input: &[u8]) {
    let split = input.iter().position(|b| *b == 0).unwrap_or(input.len());
    let (text, probe) = input.split_at(split);
    let text = String::from_utf8_lossy(text);
    let Ok(imported) = haproxy::parse_str(&text, Path::new("haproxy.cfg")) else {
        return;
    };
    let config = imported.config;
    let _ = LoadBalancer::check(&config);
    let probe = String::from_utf8_lossy(probe.get(1..).unwrap_or_default());
    let mut lines = probe.lines();
    let method = lines.next().unwrap_or("GET");
    let path = lines.next().unwrap_or("/");
    let mut headers = HeaderMap::new();
    if let Some(Ok(host)) = lines.next().map(HeaderValue::from_str) {
        headers.insert(HOST, host);
    }
    let src = lines
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or([192, 0, 2, 7].into());
    let request = Request {
        src,
        method,
        path,
        headers: &headers,
    };
    for frontend in &config.frontends {
        if let Ok(routing) = Routing::compile(frontend) {
            let _ = routing.route(&request);
            for acl in &frontend.acls {
                let _ = routing.acl_matches(&acl.name, &request);
            }
        }
    }
}

//! What a proxy must do to an HTTP message between client and server
//! (RFC 9110 and 9112): refuse what cannot be forwarded safely, turn
//! absolute-form targets into origin-form, drop hop-by-hop headers, add
//! `X-Forwarded-For`.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Uri, Version};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Rejects what hyper lets through but a proxy must not forward.
pub(crate) fn validate(parts: &Parts) -> Result<(), &'static str> {
    let hosts = parts.headers.get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err("several Host headers");
    }
    if hosts == 0 && parts.version == Version::HTTP_11 && parts.uri.authority().is_none() {
        return Err("HTTP/1.1 request without Host");
    }
    Ok(())
}

/// Makes the target origin-form. An absolute-form target's authority
/// replaces `Host` (RFC 9112 3.2.2), before routing looks at `Host`, so the
/// rules see what the server will see.
pub(crate) fn normalize_target(parts: &mut Parts) {
    let Some(authority) = parts.uri.authority().cloned() else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
        parts.headers.insert(header::HOST, value);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    if let Ok(origin) = path.parse::<Uri>() {
        parts.uri = origin;
    }
}

/// Turns a routed client request head into the head sent to a server.
pub(crate) fn to_server(parts: &mut Parts, client: IpAddr, forwardfor: bool) {
    strip_hop_by_hop(&mut parts.headers);
    if forwardfor && let Ok(value) = HeaderValue::from_str(&client.to_string()) {
        parts.headers.append(X_FORWARDED_FOR, value);
    }
    // HTTP/1.1 toward servers keeps connections reusable; an HTTP/1.0
    // request without Host stays 1.0, where a missing Host is legal.
    if parts.headers.contains_key(header::HOST) {
        parts.version = Version::HTTP_11;
    }
}

/// Removes the headers that describe one hop, not the message (RFC 9110
/// 7.6.1): `Connection` and every header it names, and the fixed list.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names is cheaper than
    // ten hashed removals.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(req: Request<()>) -> Parts {
        req.into_parts().0
    }

    #[test]
    fn absolute_form_sets_host_before_routing() {
        let mut p = parts(
            Request::get("http://admin.internal/secret?x=1")
                .header("host", "public.example.com")
                .body(())
                .unwrap(),
        );
        normalize_target(&mut p);
        assert_eq!(p.headers["host"], "admin.internal");
        assert_eq!(p.uri, "/secret?x=1");
    }

    #[test]
    fn http10_without_host_stays_http10() {
        let mut p = parts(
            Request::get("/")
                .version(Version::HTTP_10)
                .body(())
                .unwrap(),
        );
        assert!(validate(&p).is_ok());
        to_server(&mut p, [127, 0, 0, 1].into(), false);
        assert_eq!(p.version, Version::HTTP_10);
        let mut p = parts(
            Request::get("/")
                .version(Version::HTTP_10)
                .header("host", "a")
                .body(())
                .unwrap(),
        );
        to_server(&mut p, [127, 0, 0, 1].into(), true);
        assert_eq!(p.version, Version::HTTP_11);
        assert_eq!(p.headers["x-forwarded-for"], "127.0.0.1");
    }

    #[test]
    fn host_rules() {
        let p = parts(Request::get("/").body(()).unwrap());
        assert!(validate(&p).is_err());
        let p = parts(
            Request::get("/")
                .header("host", "a")
                .header("host", "b")
                .body(())
                .unwrap(),
        );
        assert!(validate(&p).is_err());
    }
}

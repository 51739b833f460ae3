//! The responses the proxy writes itself, worded as HAProxy's, so clients
//! and monitoring that know HAProxy's pages see the same.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

/// A complete error response that closes the connection.
pub(crate) fn page(status: StatusCode) -> Response<Full<Bytes>> {
    let text: &'static str = match status.as_u16() {
        400 => {
            "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
        }
        408 => {
            "<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"
        }
        502 => {
            "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"
        }
        503 => {
            "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
        }
        504 => {
            "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n"
        }
        _ => "<html><body><h1>Error</h1>\n</body></html>\n",
    };
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// The raw bytes of the 408 page, for when hyper has given up the
/// connection and the proxy writes to the socket itself.
pub(crate) fn raw_408() -> Vec<u8> {
    let body = "<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n";
    format!(
        "HTTP/1.1 408 Request Time-out\r\ncontent-length: {}\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

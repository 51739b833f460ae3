//! Fence-agents' stdin protocol: an agent's parameters as `key=value`
//! lines, read by every agent and written by whoever runs one.
//!
//! Parameters travel this way rather than on the command line, where `ps`
//! would show a password. Blank lines and `#` comments are skipped, as are
//! lines without `=`; keys and values are trimmed.

/// The parameters in `text`, in order.
///
/// ```
/// let params = ha_fence::params::parse("# node2's BMC\nip = 192.0.2.10\naction=off\nnonsense\n");
/// assert_eq!(params, [("ip".into(), "192.0.2.10".into()), ("action".into(), "off".into())]);
/// ```
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// `params` as an agent reads them on its stdin.
pub fn format(params: &[(String, String)]) -> String {
    params.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let params = vec![
            ("ip".to_owned(), "127.0.0.1".to_owned()),
            ("password".to_owned(), "a=b c".to_owned()),
        ];
        assert_eq!(parse(&format(&params)), params);
    }
}

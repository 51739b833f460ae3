//! `ha-ctl simulate` as a user runs it: on Pacemaker's own regression
//! cases its Transition Summary lines and its current and revised status
//! are crm_simulate's, byte for byte; bad
//! files get an error naming them.

use std::path::Path;
use std::process::Command;

fn cases() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ha-cluster/tests/pacemaker-scheduler")
}

fn simulate(args: &[&str]) -> (i32, String, String) {
    ha_ctl(&[&["simulate"], args].concat())
}

/// `ha-ctl simulate -x CASE.xml ARGS` on a regression case (it must
/// succeed), and crm_simulate's summary of the case.
fn run_case(case: &str, args: &[&str]) -> (String, String) {
    let xml = cases().join(format!("xml/{case}.xml"));
    let mut all = vec!["-x", xml.to_str().unwrap()];
    all.extend(args);
    let (code, out, err) = simulate(&all);
    assert_eq!(code, 0, "{case}: {err}");
    let want = std::fs::read_to_string(cases().join(format!("summary/{case}.summary"))).unwrap();
    (out, want)
}

/// The lines after the `title` line, up to an empty one.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

/// The `Transition Summary:` block of crm_simulate's output, its lines
/// sorted (crm_simulate lists resources in its own processing order).
fn summary_block(text: &str) -> Vec<&str> {
    let mut lines = text.lines().skip_while(|l| *l != "Transition Summary:");
    let head: Vec<&str> = lines.next().into_iter().collect();
    let mut body: Vec<&str> = lines.take_while(|l| l.starts_with("  ")).collect();
    body.sort_unstable();
    [head, body].concat()
}

#[test]
fn prints_crm_simulates_transition_summary_line_for_line() {
    for case in [
        "simple1",
        "rsc_dep10",
        "order-required",
        "group1",
        "clone-max-zero",
    ] {
        let (out, want) = run_case(case, &[]);
        assert_eq!(summary_block(&out), summary_block(&want), "{case}");
    }
}

/// A status block: the lines after `title` up to the next empty line
/// that precedes a heading (or the end).
fn status_block<'a>(text: &'a str, title: &str) -> &'a str {
    let start = text.find(title).map_or(text.len(), |i| i + title.len());
    let rest = &text[start..];
    let end = ["\n\nTransition Summary:", "\n\nExecuting"]
        .iter()
        .filter_map(|h| rest.find(h))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn prints_the_current_and_revised_status_as_crm_simulate_does() {
    // A group, clones (one of groups, one promotable, one unique), remote
    // nodes, fencing and tickets.
    for case in [
        "group1",
        "clone-max-zero",
        "bug-5059",
        "promoted-10",
        "inc9",
        "remote-startup-probes",
        "stonith-3",
        "ticket-promoted-10",
    ] {
        let (out, want) = run_case(case, &[]);
        for title in ["Current cluster status:", "Revised Cluster Status:"] {
            assert_eq!(
                status_block(&out, title),
                status_block(&want, title),
                "{case}: {title}"
            );
            assert!(status_block(&out, title).contains("  * Node List:"));
        }
    }
}

#[test]
fn what_comes_before_the_status_is_crm_simulates() {
    // The execution date, the maintenance-mode banner, the count of
    // disabled and blocked instances.
    for case in ["allow-unhealthy-nodes", "bug-5028-detach", "bug-lf-2606"] {
        let (out, want) = run_case(case, &[]);
        let before = |text: &str| {
            text.split("Current cluster status:")
                .next()
                .map(str::to_owned)
        };
        assert_eq!(before(&out), before(&want), "{case}");
        assert!(before(&out).is_some_and(|b| !b.is_empty()), "{case}");
    }
}

#[test]
fn run_only_stops_after_the_summary_as_crm_simulate_r_does() {
    let (out, _) = run_case("group1", &["-R"]);
    assert!(out.starts_with("Current cluster status:\n"));
    assert!(out.contains("Transition Summary:\n"));
    assert!(!out.contains("Executing Cluster Transition:"));
    assert!(!out.contains("Revised Cluster Status:"));
}

#[test]
fn scores_are_crm_simulates_allocation_scores() {
    for case in ["simple1", "group1", "6-migrate-group"] {
        let (out, _) = run_case(case, &["--scores"]);
        let got = section(&out, "Allocation scores:");
        let want = std::fs::read_to_string(cases().join(format!("scores/{case}.scores"))).unwrap();
        let want: Vec<&str> = want
            .lines()
            .filter(|l| l.starts_with("pcmk__primitive_assign:"))
            .collect();
        assert!(!got.is_empty());
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn lists_the_graph_in_an_order_that_keeps_its_orderings() {
    let (out, _) = run_case("order-required", &["--graph"]);
    let graph = section(&out, "Transition Graph:");
    assert!(!graph.is_empty(), "{out}");
    // Every action waits only for actions listed before it.
    for (k, line) in graph.iter().enumerate() {
        let (number, rest) = line.trim().split_once(". ").unwrap();
        assert_eq!(number.parse::<usize>().unwrap(), k + 1, "{line}");
        if let Some(after) = rest
            .split_once("(after ")
            .map(|(_, a)| a.trim_end_matches(')'))
        {
            for b in after.split(", ") {
                assert!(b.parse::<usize>().unwrap() <= k, "{line}");
            }
        }
    }
}

#[test]
fn bad_input_is_an_error_naming_the_file_never_a_panic() {
    let dir = std::env::temp_dir().join(format!("ha-ctl-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.xml");
    std::fs::write(&bad, "<cib><configuration><resources><primitive id=").unwrap();
    let (code, _, err) = simulate(&["-x", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.xml:1: malformed XML"), "{err}");
    let (code, _, err) = simulate(&["-x", dir.join("missing.xml").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.xml"), "{err}");
    let (code, _, err) = simulate(&["--no-such-flag"]);
    assert_eq!(code, 2);
    assert!(err.contains("usage"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn ha_ctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ha-ctl"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn answers_help_and_version() {
    for help in [&["--help"][..], &["-h"], &["simulate", "--help"]] {
        let (code, out, err) = ha_ctl(help);
        assert_eq!(code, 0, "{help:?}: {err}");
        assert!(out.starts_with("usage: ha-ctl simulate"), "{out}");
    }
    let (code, out, err) = ha_ctl(&["--version"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("ha-ctl {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn hostile_cibs_are_refused_or_bounded_never_a_crash() {
    let dir = std::env::temp_dir().join(format!("ha-ctl-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 200,000 nested elements: an error at their line, not a stack
    // overflow.
    let deep = dir.join("deep.xml");
    let n = 200_000;
    std::fs::write(
        &deep,
        format!("<cib>\n{}{}</cib>", "<a>".repeat(n), "</a>".repeat(n)),
    )
    .unwrap();
    let (code, _, err) = simulate(&["-x", deep.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("deep.xml:2: malformed XML: elements nested more than 256 deep"),
        "{err}"
    );
    // A clone-max of 4294967295 on two nodes: one instance on each.
    let huge = dir.join("huge.xml");
    std::fs::write(
        &huge,
        r#"<cib have-quorum="1"><configuration>
<crm_config><cluster_property_set id="o">
<nvpair id="o-s" name="stonith-enabled" value="false"/>
</cluster_property_set></crm_config>
<nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
<resources><clone id="c"><meta_attributes id="c-m">
<nvpair id="c-max" name="clone-max" value="4294967295"/>
</meta_attributes>
<primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></clone></resources>
<constraints/></configuration><status>
<node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
<node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
</status></cib>"#,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, out, err) = simulate(&["-x", huge.to_str().unwrap(), "-R"]);
    assert_eq!(code, 0, "{err}");
    let summary = section(&out, "Transition Summary:");
    assert_eq!(summary.len(), 2, "{out}");
    assert!(summary.iter().all(|l| l.contains("Start")), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    std::fs::remove_dir_all(&dir).unwrap();
}

//! keepalived.conf import: the chapter's configuration, broken files, warnings,
//! includes, and inputs that must never panic.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ha_vrrp::Error;
use ha_vrrp::config::{
    Config, GlobalDefs, InitFile, InitialState, Instance, Location, SyncGroup, Tracked,
    VirtualAddress, VrrpScript, VrrpTrackFile,
};
use ha_vrrp::keepalived::{self, Imported};
use ha_vrrp::packet::{Auth, Version};
use proptest::prelude::*;

/// The chapter's keepalived.conf for the master, as printed.
const MASTER: &str = include_str!("fixtures/chapter.conf");

fn parse(text: &str) -> ha_vrrp::Result<Imported> {
    keepalived::parse_str(text, Path::new("keepalived.conf"))
}

fn loc(line: u32) -> Location {
    Location {
        file: PathBuf::from("keepalived.conf"),
        line,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn chapter_instance(state: InitialState, priority: u8) -> Instance {
    Instance {
        name: "VI_1".into(),
        initial_state: Some(state),
        interface: "eth0".into(),
        vrid: 51,
        priority,
        advert_int: Duration::from_secs(1),
        version: None,
        auth: Some(Auth::Password(*b"secret12")),
        virtual_addresses: vec![VirtualAddress {
            addr: ip("192.168.122.100"),
            prefix: 24,
            dev: None,
            label: None,
        }],
        unicast_src_ip: None,
        unicast_peers: vec![],
        nopreempt: false,
        preempt_delay: None,
        accept: None,
        track_interfaces: vec![],
        track_scripts: vec![],
        track_files: vec![],
        notify_master: Some("/usr/bin/systemctl start haproxy".into()),
        notify_backup: Some("/usr/bin/systemctl stop haproxy".into()),
        notify_fault: None,
        notify_stop: None,
        notify: None,
        garp_master_delay: Duration::from_secs(5),
        garp_master_repeat: 5,
        garp_master_refresh: None,
        garp_master_refresh_repeat: 1,
        dont_track_primary: false,
        v3_checksum_as_v2: false,
        use_vmac: false,
        location: loc(1),
    }
}

fn truncation_warning() -> keepalived::Warning {
    keepalived::Warning {
        location: loc(9),
        message: "`auth_pass` truncated to 8 characters".into(),
    }
}

#[test]
fn chapter_master_config() {
    let imported = parse(MASTER).unwrap();
    assert_eq!(
        imported,
        Imported {
            config: Config {
                global: GlobalDefs::default(),
                scripts: vec![],
                instances: vec![chapter_instance(InitialState::Master, 150)],
                sync_groups: vec![],
                track_files: vec![],
            },
            warnings: vec![truncation_warning()],
        }
    );
}

#[test]
fn chapter_backup_twin() {
    let text = MASTER
        .replace("state MASTER", "state BACKUP")
        .replace("priority 150", "priority 100");
    let imported = parse(&text).unwrap();
    assert_eq!(
        imported.config.instances,
        vec![chapter_instance(InitialState::Backup, 100)]
    );
    assert_eq!(imported.config.global, GlobalDefs::default());
    assert!(imported.config.scripts.is_empty() && imported.config.sync_groups.is_empty());
    assert_eq!(imported.warnings, vec![truncation_warning()]);
}

const FULL: &str = r#"! Configuration File for keepalived
global_defs {
   router_id LVS_DEVEL
   vrrp_version 3
   enable_script_security
   script_user root
}

vrrp_script chk_haproxy {
    script "/usr/bin/killall -0 haproxy"
    interval 2.5
    timeout 3
    weight -20
    rise 2
    fall 3
}

vrrp_instance VI_1{
    interface eth0
    virtual_router_id 51
    version 2
    virtual_ipaddress {
        192.168.122.100
        192.168.122.101/24 dev eth1
        10.0.0.1/8 label eth0:1
        fd00::1/64 dev eth1 label v6
        fd00::2
    }
    unicast_src_ip 10.0.0.2
    unicast_peer {
        10.0.0.3
        fd00::3
    }
    nopreempt
    preempt_delay 30
    accept
    track_interface {
        eth1 weight -10
        eth2
    }
    track_script {
        chk_haproxy weight 5
    }
    track_file {
        ok_file
    }
    notify_fault /usr/bin/fault.sh arg
    notify_stop "/usr/bin/stop.sh"
    notify /usr/bin/notify.sh
    garp_master_delay 1
    garp_master_repeat 3
    garp_master_refresh 60
    use_vmac
    advert_int 0.5
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    no_accept
    garp_master_refresh 0
    garp_master_refresh_repeat 2
    dont_track_primary
    v3_checksum_as_v2
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
    notify_master "/bin/m"
    notify_backup /bin/b
    notify_fault /bin/f
}
vrrp_track_file ok_file {
    file /var/run/ok
    weight -2
    init_file 1 overwrite
}
"#;

#[test]
fn every_keyword() {
    let imported = parse(FULL).unwrap();
    assert_eq!(imported.warnings, vec![]);
    let c = imported.config;
    assert_eq!(
        c.global,
        GlobalDefs {
            router_id: Some("LVS_DEVEL".into()),
            vrrp_version: Some(Version::V3),
            enable_script_security: true,
            script_user: Some("root".into()),
        }
    );
    assert_eq!(
        c.scripts,
        vec![VrrpScript {
            name: "chk_haproxy".into(),
            script: "/usr/bin/killall -0 haproxy".into(),
            interval: Duration::from_millis(2500),
            timeout: Some(Duration::from_secs(3)),
            weight: -20,
            rise: 2,
            fall: 3,
            location: loc(9),
        }]
    );
    let va = |a: &str, prefix, dev: Option<&str>, label: Option<&str>| VirtualAddress {
        addr: ip(a),
        prefix,
        dev: dev.map(Into::into),
        label: label.map(Into::into),
    };
    let tracked = |name: &str, weight| Tracked {
        name: name.into(),
        weight,
    };
    assert_eq!(
        c.instances[0],
        Instance {
            name: "VI_1".into(),
            initial_state: None,
            interface: "eth0".into(),
            vrid: 51,
            priority: 100,
            advert_int: Duration::from_millis(500),
            version: Some(Version::V2),
            auth: None,
            virtual_addresses: vec![
                va("192.168.122.100", 32, None, None),
                va("192.168.122.101", 24, Some("eth1"), None),
                va("10.0.0.1", 8, None, Some("eth0:1")),
                va("fd00::1", 64, Some("eth1"), Some("v6")),
                va("fd00::2", 128, None, None),
            ],
            unicast_src_ip: Some(ip("10.0.0.2")),
            unicast_peers: vec![ip("10.0.0.3"), ip("fd00::3")],
            nopreempt: true,
            preempt_delay: Some(Duration::from_secs(30)),
            accept: Some(true),
            track_interfaces: vec![tracked("eth1", Some(-10)), tracked("eth2", None)],
            track_scripts: vec![tracked("chk_haproxy", Some(5))],
            track_files: vec![tracked("ok_file", None)],
            notify_master: None,
            notify_backup: None,
            notify_fault: Some("/usr/bin/fault.sh arg".into()),
            notify_stop: Some("/usr/bin/stop.sh".into()),
            notify: Some("/usr/bin/notify.sh".into()),
            garp_master_delay: Duration::from_secs(1),
            garp_master_repeat: 3,
            garp_master_refresh: Some(Duration::from_secs(60)),
            garp_master_refresh_repeat: 1,
            dont_track_primary: false,
            v3_checksum_as_v2: false,
            use_vmac: true,
            location: loc(18),
        }
    );
    let vi2 = &c.instances[1];
    assert_eq!(
        (vi2.name.as_str(), vi2.vrid, vi2.accept),
        ("VI_2", 52, Some(false))
    );
    assert_eq!(vi2.garp_master_refresh, None);
    assert_eq!(vi2.location, loc(56));
    assert_eq!(
        c.sync_groups,
        vec![SyncGroup {
            name: "G1".into(),
            members: vec!["VI_1".into(), "VI_2".into()],
            notify_master: Some("/bin/m".into()),
            notify_backup: Some("/bin/b".into()),
            notify_fault: Some("/bin/f".into()),
            location: loc(65),
        }]
    );
    assert_eq!(
        (
            vi2.garp_master_refresh_repeat,
            vi2.dont_track_primary,
            vi2.v3_checksum_as_v2
        ),
        (2, true, true)
    );
    assert_eq!(
        c.track_files,
        vec![VrrpTrackFile {
            name: "ok_file".into(),
            file: "/var/run/ok".into(),
            weight: -2,
            init: Some(InitFile {
                value: 1,
                overwrite: true,
            }),
            location: loc(74),
        }]
    );
    // What VI_1 tracks, with effective weights: its own interface first.
    let tracks: Vec<(String, i32)> = c
        .tracks(&c.instances[0])
        .into_iter()
        .map(|(t, _)| (t.name, t.weight))
        .collect();
    assert_eq!(
        tracks,
        [
            ("eth0".to_string(), 0),
            ("eth1".into(), -10),
            ("eth2".into(), 0),
            ("chk_haproxy".into(), 5),
            ("ok_file".into(), -2),
        ]
    );
}

/// An instance with the required lines, `extra` inserted at line 4.
fn instance_with(extra: &str) -> String {
    format!("vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n{extra}\n}}\n")
}

#[test]
fn broken_configs_name_the_line() {
    let cases: Vec<(String, u32, &str)> = vec![
        (instance_with("virtual_router_id 0"), 4, "1..=255"),
        (instance_with("virtual_router_id 256"), 4, "1..=255"),
        (instance_with("virtual_router_id x"), 4, "whole number"),
        (
            instance_with("priority 0"),
            4,
            "`priority` expects a whole number 1..=255",
        ),
        (instance_with("priority 300"), 4, "1..=255"),
        (
            instance_with("virtual_ipaddress {\n 192.168.1.300/24\n}"),
            5,
            "ADDRESS[/PREFIX]",
        ),
        (
            instance_with("virtual_ipaddress {\n 192.168.1.3/33\n}"),
            5,
            "prefix must be 0..=32",
        ),
        (
            instance_with("virtual_ipaddress {\n fd00::1/129\n}"),
            5,
            "0..=128",
        ),
        (
            instance_with("virtual_ipaddress {\n 10.0.0.1 dev\n}"),
            5,
            "`dev` expects a name",
        ),
        (instance_with("advert_int fast"), 4, "duration in seconds"),
        (instance_with("advert_int 0"), 4, "above 0"),
        (instance_with("preempt_delay -1"), 4, "duration"),
        (
            instance_with("track_interface {\n eth1 weight 254\n}"),
            5,
            "-253..=253",
        ),
        (
            instance_with("track_interface {\n eth1 heavy 2\n}"),
            5,
            "NAME [weight N]",
        ),
        (
            instance_with("track_script {\n chk_nothing\n}"),
            5,
            "no vrrp_script",
        ),
        (
            instance_with("authentication {\n auth_type AH\n auth_pass x\n}"),
            5,
            "AH",
        ),
        (
            instance_with("authentication {\n auth_pass x\n}"),
            4,
            "auth_type PASS",
        ),
        (
            instance_with("authentication {\n auth_type PASS\n}"),
            4,
            "auth_pass",
        ),
        (instance_with("state LEADER"), 4, "MASTER or BACKUP"),
        (instance_with("version 4"), 4, "2 or 3"),
        (
            instance_with("unicast_src_ip 10.0.0"),
            4,
            "IPv4 or IPv6 address",
        ),
        (
            instance_with("unicast_peer {\n host.example\n}"),
            5,
            "address",
        ),
        (instance_with("notify_master"), 4, "command line"),
        (instance_with("garp_master_repeat 0"), 4, "1..="),
        (instance_with("virtual_ipaddress 10.0.0.1"), 4, "block"),
        (
            "\n\nvrrp_instance VI_1 {\n virtual_router_id 5\n}\n".into(),
            3,
            "`interface`",
        ),
        (
            "vrrp_instance VI_1 {\n interface eth0\n}\n".into(),
            1,
            "`virtual_router_id`",
        ),
        (
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n".into(),
            1,
            "never closed",
        ),
        ("global_defs {\n}\n}\n".into(), 3, "unbalanced `}`"),
        ("{\n".into(), 1, "without a keyword"),
        ("vrrp_instance {\n}\n".into(), 1, "expects a name"),
        (
            format!("{}{}", instance_with(""), instance_with("")),
            6,
            "duplicate vrrp_instance `VI_1`",
        ),
        (
            format!(
                "{}vrrp_sync_group G {{\n group {{\n VI_1\n VI_9\n }}\n}}\n",
                instance_with("")
            ),
            9,
            "`VI_9` is not a vrrp_instance",
        ),
        (
            "vrrp_script s {\n interval 1\n}\n".into(),
            1,
            "no `script` line",
        ),
        (
            "vrrp_script s {\n script x\n weight -254\n}\n".into(),
            3,
            "-253..=253",
        ),
        ("vrrp_script s {\n script x\n rise 0\n}\n".into(), 3, "1..="),
        (
            "vrrp_script s {\n script x\n interval 0\n}\n".into(),
            3,
            "above 0",
        ),
        ("global_defs {\n vrrp_version 1\n}\n".into(), 2, "2 or 3"),
        (
            instance_with("track_file {\n no_such_file\n}"),
            5,
            "no vrrp_track_file",
        ),
        (
            "vrrp_track_file f {\n weight 2\n}\n".into(),
            1,
            "no `file` line",
        ),
        (
            "vrrp_track_file f {\n file /x\n weight 255\n}\n".into(),
            3,
            "-254..=254",
        ),
        (
            "vrrp_track_file f {\n file /x\n init_file many\n}\n".into(),
            3,
            "whole number",
        ),
        ("notify_master \"/bin/x\n".into(), 1, "unterminated"),
    ];
    assert!(cases.len() >= 15);
    for (text, line, expected) in cases {
        let err = parse(&text).expect_err(&text);
        let Error::Config { location, message } = &err else {
            panic!("{text}: not a config error: {err:?}");
        };
        assert_eq!(location, &loc(line), "{text}: {err}");
        assert!(
            message.contains(expected),
            "{text}: `{message}` lacks `{expected}`"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("keepalived.conf:{line}: "))
        );
    }
}

#[test]
fn unknown_keywords_warn_and_parsing_goes_on() {
    let text = "\
global_defs {
    notification_email { root@localhost }
    router_id R1
}
virtual_server 10.0.0.1 80 {
    real_server 10.0.0.2 80 {
        weight 1
    }
}
static_ipaddress {
    10.9.9.9/24 dev eth0
}
vrrp_strict
vrrp_instance VI_1 {
    interface eth0
    frobnicate yes
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.1/24 brd 10.0.0.255
    }
}
";
    let imported = parse(text).unwrap();
    assert_eq!(imported.config.global.router_id.as_deref(), Some("R1"));
    assert_eq!(imported.config.instances[0].vrid, 51);
    assert_eq!(imported.config.instances[0].virtual_addresses[0].prefix, 24);
    let got: Vec<String> = imported.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        vec![
            "keepalived.conf:2: unknown keyword `notification_email` in global_defs ignored and its block",
            "keepalived.conf:5: unknown keyword `virtual_server` in the top level ignored and its block",
            "keepalived.conf:10: unknown keyword `static_ipaddress` in the top level ignored and its block",
            "keepalived.conf:13: unknown keyword `vrrp_strict` in the top level ignored",
            "keepalived.conf:16: unknown keyword `frobnicate` in vrrp_instance ignored",
            "keepalived.conf:19: virtual_ipaddress option `brd` ignored",
            "keepalived.conf:19: virtual_ipaddress option `10.0.0.255` ignored",
        ]
    );
}

/// A fresh directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ha-vrrp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    dir
}

#[test]
fn include_reads_globbed_files_relative_to_the_includer() {
    let dir = temp_dir("include");
    std::fs::write(
        dir.join("keepalived.conf"),
        "global_defs {\n router_id R1\n}\ninclude conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("conf.d/b.conf"),
        instance_with("")
            .replace("VI_1", "VI_B")
            .replace("51", "52"),
    )
    .unwrap();
    std::fs::write(
        dir.join("conf.d/a.conf"),
        "vrrp_script chk {\n script /bin/true\n}\ninclude ../extra.inc\n",
    )
    .unwrap();
    std::fs::write(dir.join("conf.d/skip.txt"), "garbage {").unwrap();
    std::fs::write(
        dir.join("extra.inc"),
        "\nvrrp_instance VI_A {\n interface eth0\n virtual_router_id 51\n track_script {\n  chk\n }\n unknown_here\n}\n",
    )
    .unwrap();
    let imported = keepalived::load(&dir.join("keepalived.conf")).unwrap();
    let names: Vec<&str> = imported
        .config
        .instances
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["VI_A", "VI_B"]);
    assert_eq!(imported.config.global.router_id.as_deref(), Some("R1"));
    let vi_a = &imported.config.instances[0];
    assert_eq!(vi_a.location.line, 2);
    assert!(
        vi_a.location.file.ends_with("conf.d/../extra.inc"),
        "{:?}",
        vi_a.location
    );
    assert_eq!(imported.warnings.len(), 1);
    let w = imported.warnings[0].to_string();
    assert!(
        w.ends_with("extra.inc:8: unknown keyword `unknown_here` in vrrp_instance ignored"),
        "{w}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_errors() {
    let dir = temp_dir("include-errors");
    // A file including itself stops at the depth limit, naming the line.
    std::fs::write(dir.join("loop.conf"), "\ninclude loop.conf\n").unwrap();
    let err = keepalived::load(&dir.join("loop.conf")).unwrap_err();
    let Error::Config { location, message } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(location.line, 2);
    assert!(message.contains("include loop"), "{message}");
    // So does a chain of distinct files deeper than the limit.
    for i in 0..=keepalived::MAX_INCLUDE_DEPTH {
        std::fs::write(
            dir.join(format!("chain{i}.conf")),
            format!("include chain{}.conf\n", i + 1),
        )
        .unwrap();
    }
    let err = keepalived::load(&dir.join("chain0.conf")).unwrap_err();
    let Error::Config { location, message } = &err else {
        panic!("{err:?}");
    };
    assert!(
        location
            .file
            .ends_with(format!("chain{}.conf", keepalived::MAX_INCLUDE_DEPTH)),
        "{err}"
    );
    assert!(message.contains("nests deeper than"), "{message}");
    // A glob that includes its own file is a loop too.
    std::fs::write(dir.join("conf.d/self.conf"), "include *.conf\n").unwrap();
    let err = keepalived::load(&dir.join("conf.d/self.conf")).unwrap_err();
    assert!(err.to_string().contains("include loop"), "{err}");
    // A missing file is a read error naming it.
    std::fs::write(dir.join("main.conf"), "include nothere.conf\n").unwrap();
    let err = keepalived::load(&dir.join("main.conf")).unwrap_err();
    assert!(
        matches!(&err, Error::ReadConfig { path, .. } if path.ends_with("nothere.conf")),
        "{err:?}"
    );
    // A pattern matching nothing warns.
    std::fs::write(dir.join("empty.conf"), "include conf.d/*.none\n").unwrap();
    let imported = keepalived::load(&dir.join("empty.conf")).unwrap();
    assert!(imported.warnings[0].message.contains("matches no file"));
    // An error inside an included file names that file.
    std::fs::write(
        dir.join("conf.d/bad.conf"),
        "vrrp_instance X {\n priority 0\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("top.conf"), "include conf.d/bad.conf\n").unwrap();
    let err = keepalived::load(&dir.join("top.conf"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.conf:2: `priority`"), "{err}");
    // Errors reading the top file.
    assert!(matches!(
        keepalived::load(&dir.join("absent.conf")),
        Err(Error::ReadConfig { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

const WORDS: &[&str] = &[
    "{",
    "}",
    "\"",
    "#",
    "!",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_track_file",
    "file",
    "init_file",
    "overwrite",
    "track_file",
    "dont_track_primary",
    "v3_checksum_as_v2",
    "garp_master_refresh_repeat",
    "global_defs",
    "group",
    "VI_1",
    "interface",
    "eth0",
    "virtual_router_id",
    "51",
    "0",
    "256",
    "priority",
    "advert_int",
    "0.5",
    "authentication",
    "auth_type",
    "PASS",
    "AH",
    "auth_pass",
    "secret123",
    "virtual_ipaddress",
    "10.0.0.1/24",
    "fd00::1/129",
    "dev",
    "label",
    "unicast_peer",
    "track_script",
    "track_interface",
    "weight",
    "-254",
    "notify",
    "script",
    "state",
    "MASTER",
    "include",
    "x.conf",
    "\n",
    "\n",
    "é",
    "-",
    "/",
];

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn keyword_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(WORDS), 0..80)) {
        let _ = parse(&words.join(" "));
    }

    #[test]
    fn valid_vrid_and_priority_round_trip(vrid in 1u8..=255, priority in 1u8..=255) {
        let text = format!("vrrp_instance V {{\ninterface eth0\nvirtual_router_id {vrid}\npriority {priority}\n}}\n");
        let imported = parse(&text).unwrap();
        prop_assert_eq!(imported.config.instances[0].vrid, vrid);
        prop_assert_eq!(imported.config.instances[0].priority, priority);
    }
}

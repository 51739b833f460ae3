//! The chapter's cluster as Pacemaker XML, for unit tests.
//!
//! The vip and haproxy on two online nodes, fencing off.

/// The chapter's constraints: haproxy with the vip, after it.
pub(crate) const CHAPTER: &str = r#"<rsc_colocation id="c" rsc="haproxy" with-rsc="vip" score="INFINITY"/>
        <rsc_order id="o" first="vip" then="haproxy"/>"#;

/// The chapter's two resources on two nodes, with `constraints` and
/// node1's `status` (its `lrm` history).
pub(crate) fn chapter_xml(constraints: &str, status: &str) -> String {
    format!(
        r#"<cib have-quorum="true"><configuration>
  <crm_config><cluster_property_set id="o"><nvpair id="s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
  <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
  <resources>
    <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/>
    <primitive id="haproxy" class="systemd" type="haproxy"/>
  </resources>
  <constraints>{constraints}</constraints>
</configuration><status>
  <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">{status}</node_state>
  <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
</status></cib>"#
    )
}

#!/usr/bin/env python3
"""Writes a synthetic Pacemaker CIB for bench/cluster.sh.

usage: gen-cib.py PRIMITIVES NODES > cib.xml

PRIMITIVES Dummy resources in groups of five; every tenth group is
colocated with (INFINITY) and ordered after the one before it. NODES nodes,
all online. In the status section most groups run (a start and a monitor
in their history) on a node chosen round robin; every seventh group has
never run (it must start), every 50th primitive's monitor has failed (it
must recover), and the last node is in standby (what runs there must move).
"""
import sys

# What Pacemaker 2.1.5 records for an agent without parameters (the digest
# of "<parameters/>"): with it, nothing looks changed.
DIGEST = "f2317cad3d54cec5d7d7aa7d0bf35cf8"


def main():
    prims, nodes = int(sys.argv[1]), int(sys.argv[2])
    groups = max(1, prims // 5)
    names = [f"node{i + 1}" for i in range(nodes)]
    out = []
    w = out.append
    w('<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" '
      'num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">')
    w("<configuration><crm_config><cluster_property_set id=\"opts\">")
    w('<nvpair id="opts-stonith" name="stonith-enabled" value="false"/>')
    w("</cluster_property_set></crm_config><nodes>")
    for i, n in enumerate(names):
        w(f'<node id="{i + 1}" uname="{n}">')
        if i == nodes - 1 and nodes > 1:
            w(f'<instance_attributes id="{n}-attrs"><nvpair id="{n}-standby" '
              'name="standby" value="on"/></instance_attributes>')
        w("</node>")
    w("</nodes><resources>")
    for g in range(groups):
        w(f'<group id="g{g}">')
        for m in range(5):
            r = f"r{g}-{m}"
            w(f'<primitive id="{r}" class="ocf" provider="pacemaker" type="Dummy">'
              f'<operations><op id="{r}-mon" name="monitor" interval="10s"/></operations>'
              "</primitive>")
        w("</group>")
    w("</resources><constraints>")
    for g in range(10, groups, 10):
        w(f'<rsc_colocation id="c{g}" rsc="g{g}" with-rsc="g{g - 1}" score="INFINITY"/>')
        w(f'<rsc_order id="o{g}" first="g{g - 1}" then="g{g}"/>')
    w("</constraints></configuration><status>")
    # Which node each group runs on: colocated chains share their primary's.
    home = {}
    for g in range(groups):
        home[g] = home[g - 1] if g % 10 == 0 and g > 0 else names[g % nodes]
    for i, n in enumerate(names):
        w(f'<node_state id="{i + 1}" uname="{n}" in_ccm="true" crmd="online" '
          'join="member" expected="member"><lrm id="{}"><lrm_resources>'.replace("{}", str(i + 1)))
        call = 1
        for g in range(groups):
            if home[g] != n or g % 7 == 3:
                continue
            for m in range(5):
                r = f"r{g}-{m}"
                failed = (g * 5 + m) % 50 == 49
                rc = 1 if failed else 0
                w(f'<lrm_resource id="{r}" class="ocf" provider="pacemaker" type="Dummy">'
                  f'<lrm_rsc_op id="{r}_last_0" operation_key="{r}_start_0" operation="start" '
                  f'crm-debug-origin="bench" crm_feature_set="3.16.1" transition-key="1:1:0:6e1a3a2c-5a1b-4d8a-9c59-0b6a2f0d2c11" '
                  f'transition-magic="0:0;1:1:0:6e1a3a2c-5a1b-4d8a-9c59-0b6a2f0d2c11" call-id="{call}" rc-code="0" op-status="0" '
                  f'interval="0" last-rc-change="1700000000" exec-time="10" queue-time="0" '
                  f'op-digest="{DIGEST}" '
                  '/>'
                  f'<lrm_rsc_op id="{r}_monitor_10000" operation_key="{r}_monitor_10000" '
                  f'operation="monitor" crm-debug-origin="bench" crm_feature_set="3.16.1" '
                  f'transition-key="2:1:0:6e1a3a2c-5a1b-4d8a-9c59-0b6a2f0d2c11" transition-magic="0:{rc};2:1:0:6e1a3a2c-5a1b-4d8a-9c59-0b6a2f0d2c11" '
                  f'call-id="{call + 1}" rc-code="{rc}" op-status="{4 if failed else 0}" '
                  f'interval="10000" last-rc-change="1700000000" exec-time="10" queue-time="0" '
                  f'op-digest="{DIGEST}" '
                  '/></lrm_resource>')
                call += 2
        w("</lrm_resources></lrm></node_state>")
    w("</status></cib>")
    sys.stdout.write("\n".join(out) + "\n")


main()

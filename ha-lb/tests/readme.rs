//! The README's examples are `examples/round_robin.rs` and
//! `examples/haproxy_cfg.rs`, which the build compiles: this keeps them the
//! same.

/// The README's rust blocks, in order.
fn readme_blocks() -> Vec<&'static str> {
    let readme = include_str!("../README.md");
    let fence = "```rust,no_run\n";
    readme
        .split(fence)
        .skip(1)
        .map(|rest| &rest[..rest.find("```").expect("the block's end")])
        .collect()
}

/// An example file's code, after its module doc.
fn code(example: &'static str) -> &'static str {
    example.split_once("\n\n").expect("a module doc").1
}

#[test]
fn the_readme_examples_are_the_compiled_ones() {
    let blocks = readme_blocks();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0], code(include_str!("../examples/round_robin.rs")));
    assert_eq!(blocks[1], code(include_str!("../examples/haproxy_cfg.rs")));
}

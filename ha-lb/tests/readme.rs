//! The README's first example is `examples/round_robin.rs`, which the build
//! compiles: this keeps the two the same.

#[test]
fn the_readme_example_is_the_compiled_one() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/round_robin.rs");
    let start = readme.find("```rust,no_run\n").expect("a rust block") + "```rust,no_run\n".len();
    let block = &readme[start..];
    let block = &block[..block.find("```").expect("the block's end")];
    // The example file opens with its own module doc, then the code.
    let (_, code) = example.split_once("\n\n").expect("a module doc");
    assert_eq!(block, code);
}

//! A small element tree read with quick-xml: what the CIB import walks.

use ha_core::Location;
use quick_xml::events::Event;

use crate::error::{Error, Result};

/// An XML element: its name, attributes and child elements (text is not
/// used by the CIB).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Tag name.
    pub name: String,
    /// Attributes in document order.
    pub attributes: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The line its start tag is on, counted from 1 (0 when it was not
    /// read from text).
    pub line: u32,
}

impl Element {
    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `id` attribute, or "".
    pub fn id(&self) -> &str {
        self.attr("id").unwrap_or("")
    }

    /// Children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Where the element starts, for errors.
    pub fn location(&self) -> Location {
        Location {
            file: Default::default(),
            line: self.line,
        }
    }

    /// An error about this element.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::Element {
            location: self.location(),
            element: self.name.clone(),
            id: self.id().to_owned(),
            message: message.into(),
        }
    }
}

/// How deep elements may nest. A Pacemaker CIB is about ten levels deep
/// (`cib/configuration/resources/clone/group/primitive/operations/op/
/// instance_attributes/nvpair`, rules a few more); 256 leaves ample room
/// for nested rules while keeping every walk of the tree (the import, rule
/// evaluation, even dropping it) far from the end of a thread's stack.
pub const MAX_DEPTH: usize = 256;

/// How many elements a document may hold. The 10,000-primitive benchmark
/// CIB (`bench/gen-cib.py 10000 16`) has about 58,000; a million leaves
/// room for far larger clusters while refusing a document that would only
/// exhaust memory.
pub const MAX_ELEMENTS: usize = 1_000_000;

/// Parses a document into its root element: at most [`MAX_DEPTH`] levels
/// deep and [`MAX_ELEMENTS`] elements, or an [`Error::Xml`] at the line
/// that goes beyond.
pub fn parse(text: &str) -> Result<Element> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut lines = Lines::new(text);
    let mut elements = 0usize;
    let bad = |reader: &quick_xml::Reader<&[u8]>, lines: &mut Lines, message: String| Error::Xml {
        location: Location {
            file: Default::default(),
            line: lines.at(reader.buffer_position()),
        },
        message,
    };
    loop {
        let start = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| bad(&reader, &mut lines, e.to_string()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(bad(
                        &reader,
                        &mut lines,
                        format!("more than {MAX_ELEMENTS} elements"),
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(bad(
                        &reader,
                        &mut lines,
                        format!("elements nested more than {MAX_DEPTH} deep"),
                    ));
                }
                let mut element = Element {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    line: lines.at(start),
                    ..Element::default()
                };
                for a in e.attributes() {
                    let a = a.map_err(|err| bad(&reader, &mut lines, err.to_string()))?;
                    let value = a
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|err| bad(&reader, &mut lines, err.to_string()))?;
                    element.attributes.push((
                        String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                        value.into_owned(),
                    ));
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else if let Some(parent) = stack.last_mut() {
                    parent.children.push(element);
                } else if root.is_none() {
                    root = Some(element);
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| bad(&reader, &mut lines, "unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(bad(
            &reader,
            &mut lines,
            format!("<{}> is not closed", stack[stack.len() - 1].name),
        ));
    }
    root.ok_or_else(|| bad(&reader, &mut lines, "no root element".into()))
}

/// Byte offsets to line numbers, for offsets that only grow (a reader's
/// position): each newline is counted once.
struct Lines<'a> {
    text: &'a [u8],
    offset: usize,
    line: u32,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line the byte at `position` is on.
    fn at(&mut self, position: u64) -> u32 {
        let end = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        if end > self.offset {
            let newlines = self.text[self.offset..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line = self
                .line
                .saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
            self.offset = end;
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_and_errors() {
        let root = parse(r#"<cib a="1"><x id="one"/><y><z k="&lt;"/></y></cib>"#).unwrap();
        assert_eq!(root.attr("a"), Some("1"));
        assert_eq!(root.child("x").unwrap().id(), "one");
        assert_eq!(
            root.child("y").unwrap().child("z").unwrap().attr("k"),
            Some("<")
        );
        assert!(parse("<a><b></a>").is_err());
        let root = parse("<cib>\n  <x id=\"one\"/>\n\n  <y/></cib>").unwrap();
        assert_eq!(root.line, 1);
        assert_eq!(root.child("x").unwrap().line, 2);
        assert_eq!(root.child("y").unwrap().line, 4);
        let err = parse("<cib>\n<a>\n</b></cib>").unwrap_err();
        assert!(
            matches!(&err, Error::Xml { location, .. } if location.line == 3),
            "{err}"
        );
        assert!(parse("<a>").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        // In the test's own thread: a stack overflow would abort the
        // whole test binary.
        let n = 200_000;
        let text = format!("<cib>\n{}{}</cib>", "<a>".repeat(n), "</a>".repeat(n));
        let err = parse(&text).unwrap_err();
        assert!(
            matches!(&err, Error::Xml { location, message }
                if location.line == 2 && message.contains("nested more than 256")),
            "{err}"
        );
        // As deep as allowed still reads.
        let depth = MAX_DEPTH - 1;
        let text = format!("<cib>{}{}</cib>", "<a>".repeat(depth), "</a>".repeat(depth));
        let mut e = &parse(&text).unwrap();
        let mut levels = 1;
        while let Some(c) = e.children.first() {
            e = c;
            levels += 1;
        }
        assert_eq!(levels, MAX_DEPTH);
    }

    #[test]
    fn too_many_elements_are_refused() {
        let text = format!("<cib>\n{}</cib>", "<a/>".repeat(MAX_ELEMENTS));
        let err = parse(&text).unwrap_err();
        assert!(
            matches!(&err, Error::Xml { location, message }
                if location.line == 2 && message.contains("more than 1000000 elements")),
            "{err}"
        );
        let text = format!("<cib>{}</cib>", "<a/>".repeat(MAX_ELEMENTS - 1));
        assert_eq!(parse(&text).unwrap().children.len(), MAX_ELEMENTS - 1);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = parse(&text);
            let _ = parse(&format!("<cib>{text}</cib>"));
        }
    }
}

//! Fence-agents metadata: what a device is, takes and does.
//!
//! [`Metadata`] is read from, and written as, the XML that
//! `fence_x -o metadata` prints.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::error::{Error, ProtocolError, Result};

/// A parameter's type, as fence-agents metadata names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterType {
    /// Free text.
    String,
    /// `0`/`1`, `true`/`false`, `on`/`off`.
    Boolean,
    /// A whole number.
    Integer,
    /// A number with a fraction (seconds).
    Second,
    /// One of these values.
    Select(Vec<String>),
}

/// One parameter a device takes.
///
/// Fence-agents metadata has room for one older name (`obsoletes`): the
/// first of [`Parameter::aliases`] is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Its name (`ip`, `username`...).
    pub name: String,
    /// Older names still accepted (`ipaddr`, `login`...).
    pub aliases: Vec<String>,
    /// Its type.
    pub kind: ParameterType,
    /// The value when not given.
    pub default: Option<String>,
    /// Must be given.
    pub required: bool,
    /// What it is for.
    pub description: String,
}

/// What a device is, takes and does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Its agent name (`fence_ipmilan`...).
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Its parameters.
    pub parameters: Vec<Parameter>,
    /// The actions it answers (`on`, `off`, `reboot`, `status`,
    /// `monitor`, `list`, `metadata`, `validate-all`...).
    pub actions: Vec<String>,
}

impl Metadata {
    /// Reads fence-agents' metadata XML (`fence_x -o metadata`).
    pub fn parse(xml: &str) -> Result<Metadata> {
        use quick_xml::events::Event;

        let bad = |e: String| Error::from(ProtocolError::Metadata(e));
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut metadata = Metadata::default();
        let mut current: Option<Parameter> = None;
        let mut in_shortdesc = false;
        loop {
            let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let attr = |name: &str| {
                        e.attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == name.as_bytes())
                            .and_then(|a| {
                                a.decode_and_unescape_value(reader.decoder())
                                    .ok()
                                    .map(|v| v.into_owned())
                            })
                    };
                    match e.name().as_ref() {
                        b"resource-agent" => {
                            metadata.name = attr("name").unwrap_or_default();
                            metadata.description = attr("shortdesc").unwrap_or_default();
                        }
                        b"parameter" => {
                            current = Some(Parameter {
                                name: attr("name")
                                    .ok_or_else(|| bad("a parameter without a name".into()))?,
                                aliases: attr("obsoletes").into_iter().collect(),
                                kind: ParameterType::String,
                                default: None,
                                required: attr("required").as_deref() == Some("1"),
                                description: String::new(),
                            });
                        }
                        b"content" => {
                            if let Some(p) = current.as_mut() {
                                p.default = attr("default");
                                p.kind = match attr("type").as_deref() {
                                    Some("boolean") => ParameterType::Boolean,
                                    Some("integer") => ParameterType::Integer,
                                    Some("second") => ParameterType::Second,
                                    Some("select") => ParameterType::Select(Vec::new()),
                                    _ => ParameterType::String,
                                };
                            }
                        }
                        b"option" => {
                            if let Some(Parameter {
                                kind: ParameterType::Select(values),
                                ..
                            }) = current.as_mut()
                                && let Some(v) = attr("value")
                            {
                                values.push(v);
                            }
                        }
                        b"shortdesc" => in_shortdesc = current.is_some(),
                        b"action" if current.is_none() => {
                            if let Some(name) = attr("name") {
                                metadata.actions.push(name);
                            }
                        }
                        _ => {}
                    }
                }
                Event::Text(t) if in_shortdesc => {
                    if let Some(p) = current.as_mut() {
                        p.description
                            .push_str(&t.decode().map_err(|e| bad(e.to_string()))?);
                    }
                }
                // Entities come apart from the text around them.
                Event::GeneralRef(r) if in_shortdesc => {
                    if let Some(p) = current.as_mut() {
                        let name = r.decode().map_err(|e| bad(e.to_string()))?;
                        if let Some(c) = r.resolve_char_ref().map_err(|e| bad(e.to_string()))? {
                            p.description.push(c);
                        } else if let Some(text) =
                            quick_xml::escape::resolve_predefined_entity(&name)
                        {
                            p.description.push_str(text);
                        }
                    }
                }
                Event::End(ref e) => match e.name().as_ref() {
                    b"shortdesc" => in_shortdesc = false,
                    b"parameter" => {
                        if let Some(p) = current.take() {
                            metadata.parameters.push(p);
                        }
                    }
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
        }
        if metadata.name.is_empty() {
            return Err(bad("no <resource-agent name=...>".into()));
        }
        Ok(metadata)
    }

    /// Writes fence-agents' metadata XML, as `fence_x -o metadata` prints it.
    pub fn to_xml(&self) -> String {
        let mut writer = Writer::new_with_indent(Vec::new(), b'\t', 1);
        // Writing into memory cannot fail.
        self.write(&mut writer).expect("writing XML into memory");
        let mut xml =
            String::from_utf8(writer.into_inner()).expect("the XML is written from strings");
        xml.push('\n');
        xml
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", None, None)))?;
        w.create_element("resource-agent")
            .with_attribute(("name", self.name.as_str()))
            .with_attribute(("shortdesc", self.description.as_str()))
            .write_inner_content(|w| {
                w.create_element("parameters").write_inner_content(|w| {
                    for p in &self.parameters {
                        write_parameter(w, p)?;
                    }
                    Ok(())
                })?;
                if !self.actions.is_empty() {
                    w.create_element("actions").write_inner_content(|w| {
                        for a in &self.actions {
                            w.create_element("action")
                                .with_attribute(("name", a.as_str()))
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        Ok(())
    }
}

fn write_parameter(w: &mut Writer<Vec<u8>>, p: &Parameter) -> std::io::Result<()> {
    let mut element = w
        .create_element("parameter")
        .with_attribute(("name", p.name.as_str()))
        .with_attribute(("unique", "0"))
        .with_attribute(("required", if p.required { "1" } else { "0" }));
    if let Some(alias) = p.aliases.first() {
        element = element.with_attribute(("obsoletes", alias.as_str()));
    }
    element.write_inner_content(|w| {
        let option = format!("--{}", p.name.replace('_', "-"));
        let getopt = match p.kind {
            ParameterType::Boolean => option,
            _ => format!("{option}=[value]"),
        };
        w.create_element("getopt")
            .with_attribute(("mixed", getopt.as_str()))
            .write_empty()?;
        let (kind, values) = match &p.kind {
            ParameterType::String => ("string", &[][..]),
            ParameterType::Boolean => ("boolean", &[][..]),
            ParameterType::Integer => ("integer", &[][..]),
            ParameterType::Second => ("second", &[][..]),
            ParameterType::Select(values) => ("select", values.as_slice()),
        };
        let mut content = w.create_element("content").with_attribute(("type", kind));
        if let Some(default) = &p.default {
            content = content.with_attribute(("default", default.as_str()));
        }
        if values.is_empty() {
            content.write_empty()?;
        } else {
            content.write_inner_content(|w| {
                for v in values {
                    w.create_element("option")
                        .with_attribute(("value", v.as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
        }
        w.create_element("shortdesc")
            .with_attribute(("lang", "en"))
            .write_text_content(BytesText::new(&p.description))?;
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn metadata_xml_is_read() {
        let xml = r#"<?xml version="1.0" ?>
<resource-agent name="fence_example" shortdesc="An example" >
<parameters>
	<parameter name="ip" unique="0" required="1" obsoletes="ipaddr">
		<getopt mixed="-a, --ip=[ip]" />
		<content type="string"  />
		<shortdesc lang="en">IP address &amp; more</shortdesc>
	</parameter>
	<parameter name="method" unique="0" required="0">
		<content type="select" default="onoff"  >
			<option value="onoff" />
			<option value="cycle" />
		</content>
		<shortdesc lang="en">Method</shortdesc>
	</parameter>
</parameters>
</resource-agent>"#;
        let m = Metadata::parse(xml).unwrap();
        assert_eq!(
            (m.name.as_str(), m.description.as_str()),
            ("fence_example", "An example")
        );
        assert_eq!(m.parameters[0].aliases, ["ipaddr"]);
        assert!(m.parameters[0].required);
        assert_eq!(m.parameters[0].description, "IP address & more");
        assert_eq!(
            m.parameters[1].kind,
            ParameterType::Select(vec!["onoff".into(), "cycle".into()])
        );
        assert_eq!(m.parameters[1].default.as_deref(), Some("onoff"));
        assert!(Metadata::parse("<nothing/>").is_err());
        assert!(Metadata::parse("<resource-agent name=").is_err());
    }

    #[test]
    fn what_is_written_reads_back_escaped() {
        let m = Metadata {
            name: "fence_x".into(),
            description: "Quotes \" & <angles> 'too'".into(),
            parameters: vec![
                Parameter {
                    name: "ip".into(),
                    aliases: vec!["ipaddr".into()],
                    kind: ParameterType::String,
                    default: None,
                    required: true,
                    description: "The BMC <address> & port".into(),
                },
                Parameter {
                    name: "method".into(),
                    aliases: Vec::new(),
                    kind: ParameterType::Select(vec!["onoff".into(), "cycle".into()]),
                    default: Some("onoff".into()),
                    required: false,
                    description: "Method".into(),
                },
            ],
            actions: vec!["on".into(), "off".into(), "metadata".into()],
        };
        let xml = m.to_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\"?>"), "{xml}");
        assert!(xml.contains("&lt;address&gt; &amp; port"), "{xml}");
        assert!(xml.contains(r#"<getopt mixed="--ip=[value]"/>"#), "{xml}");
        assert_eq!(Metadata::parse(&xml).unwrap(), m);
    }

    fn parameter() -> impl Strategy<Value = Parameter> {
        (
            "[a-z_]{1,12}",
            proptest::option::of("[a-z]{1,8}"),
            prop_oneof![
                Just(ParameterType::String),
                Just(ParameterType::Boolean),
                Just(ParameterType::Integer),
                Just(ParameterType::Second),
                proptest::collection::vec("[a-z0-9]{1,6}", 1..4).prop_map(ParameterType::Select),
            ],
            proptest::option::of("[ -~]{0,12}"),
            any::<bool>(),
            "[ -~]{0,40}",
        )
            .prop_map(
                |(name, alias, kind, default, required, description)| Parameter {
                    name,
                    aliases: alias.into_iter().collect(),
                    kind,
                    default,
                    required,
                    description: description.trim().to_owned(),
                },
            )
    }

    proptest! {
        #[test]
        fn written_metadata_reads_back(
            name in "[a-z_]{1,16}",
            description in "[ -~]{0,40}",
            parameters in proptest::collection::vec(parameter(), 0..5),
            actions in proptest::collection::vec("[a-z-]{1,12}", 0..5),
        ) {
            let m = Metadata { name, description, parameters, actions };
            prop_assert_eq!(Metadata::parse(&m.to_xml()).unwrap(), m);
        }

        #[test]
        fn arbitrary_metadata_never_panics(text in ".{0,300}") {
            let _ = Metadata::parse(&text);
            let _ = Metadata::parse(&format!("<resource-agent name=\"x\">{text}</resource-agent>"));
        }
    }
}

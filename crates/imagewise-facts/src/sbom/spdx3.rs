//! SPDX 3.0.1 JSON-LD (context `https://spdx.org/rdf/3.0.1/spdx-context.jsonld`, profiles Core,
//! Software and SimpleLicensing): the same elements and relations as the SPDX 2.3 document, in
//! SPDX 3's model.
//! - Each element is a `software_Package`; its supplier an `Organization` (one per supplier, the
//!   address as an `email` external identifier).
//! - Licences are `simplelicensing_LicenseExpression` elements, one per distinct expression, tied
//!   to packages by `hasDeclaredLicense` and `hasConcludedLicense`; a `LicenseRef-` maps through
//!   `customIdToUri` to a `simplelicensing_SimpleLicensingText` that says where its text is.
//! - The image `contains` the OS and every package; each Debian source package `generates` its
//!   binaries (SPDX 3's direction, the reverse of 2.3's `GENERATED_FROM`).
//! - The `software_Sbom` has the image and the source packages as its root elements (what 2.3's
//!   `DESCRIBES` said) and `software_sbomType` "analyzed", the field SPDX 2.3 lacks; the
//!   `SpdxDocument`'s root element is the Sbom.
//!
//! SPDX 3 has no `NOASSERTION` string: a value nothing records is left out, which says the same.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{
    license_ref_text, split_actor, used_license_refs, ImageFacts, Purpose, Rel, SBOM_TYPE, TOOL,
};

const CREATION_INFO: &str = "_:creationinfo";

/// Elements under their IRIs, each with the document's creation info.
struct Graph {
    ns: String,
    nodes: Vec<Value>,
    ids: Vec<String>,
}

impl Graph {
    fn iri(&self, local: &str) -> String {
        format!("{}#{local}", self.ns)
    }

    /// Adds an element of `kind` and returns its IRI.
    fn add(&mut self, kind: &str, local: &str, mut props: Value) -> String {
        let id = self.iri(local);
        props["type"] = json!(kind);
        props["spdxId"] = json!(id);
        props["creationInfo"] = json!(CREATION_INFO);
        self.nodes.push(props);
        self.ids.push(id.clone());
        id
    }

    fn relate(&mut self, from: &str, kind: &str, to: Vec<String>) {
        let n = self.nodes.len();
        self.add(
            "Relationship",
            &format!("Relationship-{n}"),
            json!({"from": from, "relationshipType": kind, "to": to}),
        );
    }
}

/// An SPDX 3.0.1 JSON-LD document.
pub fn spdx3(facts: &ImageFacts, created: &str) -> Value {
    let m = super::model(facts, created);
    let mut g = Graph {
        ns: m.namespace.clone(),
        nodes: Vec::new(),
        ids: Vec::new(),
    };
    let creator = g.add(
        "SoftwareAgent",
        "SoftwareAgent-imagewise",
        json!({"name": "imagewise"}),
    );
    let tool = g.add("Tool", "Tool-imagewise", json!({"name": TOOL}));
    let data_license = g.add(
        "simplelicensing_LicenseExpression",
        "License-data",
        json!({"simplelicensing_licenseExpression": "CC0-1.0"}),
    );

    // Suppliers, one Organization each, in order of first use.
    let mut suppliers: BTreeMap<&str, String> = BTreeMap::new();
    for e in &m.elements {
        let Some(s) = e.supplier.as_deref() else {
            continue;
        };
        if suppliers.contains_key(s) {
            continue;
        }
        let (name, mail) = split_actor(s);
        let mail = mail.filter(|m| !m.is_empty());
        let mut org = json!({
            "name": if name.is_empty() { mail.clone().unwrap_or_default() } else { name },
        });
        if let Some(mail) = mail {
            org["externalIdentifier"] = json!([{
                "type": "ExternalIdentifier",
                "externalIdentifierType": "email",
                "identifier": mail,
            }]);
        }
        let id = g.add(
            "Organization",
            &format!("Organization-{}", suppliers.len() + 1),
            org,
        );
        suppliers.insert(s, id);
    }

    // The texts behind LicenseRefs, then one expression element per distinct expression.
    let mut ref_texts: BTreeMap<String, String> = BTreeMap::new();
    for (r, who) in used_license_refs(&m.elements) {
        let (name, text) = license_ref_text(&r);
        let id = g.add(
            "simplelicensing_SimpleLicensingText",
            &format!("LicenseText-{}", ref_texts.len() + 1),
            json!({
                "name": name,
                "simplelicensing_licenseText": text,
                "comment": format!("{r}, used by: {}", who.join(", ")),
            }),
        );
        ref_texts.insert(r, id);
    }
    let mut expressions: BTreeMap<&str, String> = BTreeMap::new();
    for e in &m.elements {
        let Some(expr) = e.license.as_deref() else {
            continue;
        };
        if expressions.contains_key(expr) {
            continue;
        }
        let mut l = json!({"simplelicensing_licenseExpression": expr});
        let map: Vec<Value> = super::license_refs(expr)
            .into_iter()
            .filter_map(|r| {
                let to = ref_texts.get(&r)?;
                Some(json!({"type": "DictionaryEntry", "key": r, "value": to}))
            })
            .collect();
        if !map.is_empty() {
            l["simplelicensing_customIdToUri"] = json!(map);
        }
        let id = g.add(
            "simplelicensing_LicenseExpression",
            &format!("License-{}", expressions.len() + 1),
            l,
        );
        expressions.insert(expr, id);
    }

    // The packages.
    let mut iris = Vec::with_capacity(m.elements.len());
    for e in &m.elements {
        let mut p = json!({
            "name": e.name,
            "software_primaryPurpose": match e.purpose {
                Purpose::Container => "container",
                Purpose::OperatingSystem => "operatingSystem",
                Purpose::Source => "source",
                Purpose::Library => "library",
            },
        });
        let comment = match (&e.comment, &e.license_note) {
            (Some(c), Some(n)) => Some(format!("{c}; {n}")),
            (c, n) => c.clone().or(n.clone()),
        };
        let optional = [
            ("software_packageVersion", &e.version),
            ("software_packageUrl", &e.purl),
            ("software_copyrightText", &e.copyright),
            ("software_sourceInfo", &e.source_info),
            ("summary", &e.summary),
            ("description", &e.description),
            ("comment", &comment),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                p[k] = json!(v);
            }
        }
        if let Some(s) = e.supplier.as_deref() {
            p["suppliedBy"] = json!(suppliers[s]);
        }
        let id = g.add("software_Package", &e.id, p);
        if let Some(expr) = e.license.as_deref() {
            let l = expressions[expr].clone();
            g.relate(&id, "hasDeclaredLicense", vec![l.clone()]);
            g.relate(&id, "hasConcludedLicense", vec![l]);
        }
        iris.push(id);
    }

    // Composition and provenance, one relationship per source element and kind.
    let mut roots = Vec::new();
    let mut grouped: BTreeMap<(usize, &str), Vec<String>> = BTreeMap::new();
    for &(from, rel, to) in &m.relations {
        match (from, rel) {
            (None, _) => roots.push(iris[to].clone()),
            (Some(f), Rel::Contains) => grouped
                .entry((f, "contains"))
                .or_default()
                .push(iris[to].clone()),
            (Some(binary), Rel::GeneratedFrom) => grouped
                .entry((to, "generates"))
                .or_default()
                .push(iris[binary].clone()),
            (Some(_), Rel::Describes) => {}
        }
    }
    for ((from, kind), to) in grouped {
        let from = iris[from].clone();
        g.relate(&from, kind, to);
    }

    let elements = g.ids.clone();
    let sbom = g.add(
        "software_Sbom",
        "Sbom",
        json!({
            "name": format!("SBOM of {}", m.elements[0].name),
            "software_sbomType": ["analyzed"],
            "rootElement": roots,
            "element": elements,
            "profileConformance": ["core", "software", "simpleLicensing"],
        }),
    );
    let mut doc_elements = elements;
    doc_elements.push(sbom.clone());
    let doc = json!({
        "type": "SpdxDocument",
        "spdxId": m.namespace,
        "creationInfo": CREATION_INFO,
        "name": m.elements[0].name,
        "dataLicense": data_license,
        "profileConformance": ["core", "software", "simpleLicensing"],
        "rootElement": [sbom],
        "element": doc_elements,
    });
    let mut nodes = vec![json!({
        "type": "CreationInfo",
        "@id": CREATION_INFO,
        "specVersion": "3.0.1",
        "created": created,
        "createdBy": [creator],
        "createdUsing": [tool],
        "comment": SBOM_TYPE,
    })];
    nodes.push(doc);
    nodes.append(&mut g.nodes);
    json!({
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": nodes,
    })
}

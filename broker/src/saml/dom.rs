//! Small, strict reads over an `uppsala` document: elements by namespace, attributes without a
//! namespace, and text that must be plain (no comments or child elements inside).

use uppsala::{Document, NodeId, NodeKind};

/// True when `id` is the element `{ns}local`.
pub fn is(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> bool {
    doc.element(id)
        .is_some_and(|e| e.name.matches(Some(ns), local))
}

/// The element children of `id` named `{ns}local`, in order.
pub fn children<'d>(doc: &'d Document<'_>, id: NodeId, ns: &'d str, local: &'d str) -> Vec<NodeId> {
    doc.children(id)
        .into_iter()
        .filter(|c| is(doc, *c, ns, local))
        .collect()
}

/// The only child `{ns}local` of `id`: None when absent, Err when repeated.
pub fn only_child(
    doc: &Document<'_>,
    id: NodeId,
    ns: &str,
    local: &str,
) -> Result<Option<NodeId>, String> {
    let found = children(doc, id, ns, local);
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(format!("more than one <{local}>")),
    }
}

/// Every element `{ns}local` anywhere under `id` (including `id`).
pub fn descendants(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> Vec<NodeId> {
    let mut out = Vec::new();
    if is(doc, id, ns, local) {
        out.push(id);
    }
    out.extend(
        doc.descendants(id)
            .into_iter()
            .filter(|d| is(doc, *d, ns, local)),
    );
    out
}

/// An attribute without a namespace (`ID`, `Destination`, …). A namespaced attribute with the
/// same local name is a different attribute and is ignored.
pub fn attr<'d>(doc: &'d Document<'_>, id: NodeId, name: &str) -> Option<&'d str> {
    doc.element(id)?
        .attributes
        .iter()
        .find(|a| {
            a.name.namespace_uri.is_none() && a.name.prefix.is_none() && a.name.local_name == name
        })
        .map(|a| a.value.as_ref())
}

/// The text of an element that must hold only text. A comment, processing instruction or
/// element inside is refused: readers that stop at the first text node would see a truncated
/// value (`admin@corp<!-- -->.evil` read as `admin@corp`), so no reading is safe.
pub fn plain_text(doc: &Document<'_>, id: NodeId) -> Result<String, &'static str> {
    let mut out = String::new();
    for child in doc.children(id) {
        match doc.node_kind(child) {
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => out.push_str(t),
            Some(NodeKind::Comment(_)) => return Err("a comment inside a value"),
            Some(NodeKind::ProcessingInstruction(_)) => {
                return Err("a processing instruction inside a value")
            }
            _ => return Err("markup inside a value"),
        }
    }
    Ok(out)
}

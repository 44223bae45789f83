//! nginx's request/response header list as ngx_wasm_module edits it.
//!
//! nginx keeps headers in a list of entries; ngx_wasm_module never deletes an entry, it marks
//! it removed by zeroing its hash (src/http/ngx_http_wasm_headers.c,
//! `ngx_http_wasm_set_header_helper`). What sees that mark and what does not is the whole story:
//! - the filter's header-map reads skip removed entries (`ngx_proxy_wasm_pairs_marshal`,
//!   src/common/proxy_wasm/ngx_proxy_wasm_util.c), but a single-value read does not
//!   (`ngx_wasm_get_list_elem`, src/wasm/ngx_wasm_util.c);
//! - nginx's proxy module forwards every entry, removed or not, so a removed request header
//!   still reaches the upstream (seen on the real host, /work/kong-real/FINDINGS.md);
//! - nginx's header filter skips removed response headers.

/// One header as nginx stores it: the name as it arrived (HTTP/1.x keeps the client's case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: String,
    /// False once the filter removed it (nginx: `hash == 0`).
    pub live: bool,
}

#[derive(Debug, Clone, Default)]
pub struct HeaderList {
    entries: Vec<Entry>,
}

impl HeaderList {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            entries: pairs
                .into_iter()
                .map(|(name, value)| Entry {
                    name,
                    value,
                    live: true,
                })
                .collect(),
        }
    }

    /// What the filter sees in a header map: live entries, in order.
    pub fn live(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.live)
    }

    /// Every entry, removed ones included: what nginx's proxy module sends upstream.
    pub fn all(&self) -> &[Entry] {
        &self.entries
    }

    /// A single-value read: the first entry of that name (any case), removed or not.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
            .map(|e| e.value.as_str())
    }

    /// "Replace": the first live entry of that name takes the new name and value, later live
    /// ones are marked removed (and so are still forwarded); none → a new entry at the end.
    pub fn set(&mut self, name: &str, value: &str) {
        let mut found = false;
        for e in self.entries.iter_mut() {
            if !e.live || !e.name.eq_ignore_ascii_case(name) {
                continue;
            }
            if found {
                e.live = false;
            } else {
                e.name = name.to_string();
                e.value = value.to_string();
                found = true;
            }
        }
        if !found {
            self.add(name, value);
        }
    }

    /// "Add": always a new entry at the end.
    pub fn add(&mut self, name: &str, value: &str) {
        self.entries.push(Entry {
            name: name.to_string(),
            value: value.to_string(),
            live: true,
        });
    }

    /// "Remove": every live entry of that name is marked removed.
    pub fn remove(&mut self, name: &str) {
        for e in self.entries.iter_mut() {
            if e.name.eq_ignore_ascii_case(name) {
                e.live = false;
            }
        }
    }

    /// `set_header_map_pairs` first removes every entry (ngx_http_wasm_clear_headers_helper).
    pub fn clear(&mut self) {
        for e in self.entries.iter_mut() {
            e.live = false;
        }
    }

    pub fn live_count(&self) -> usize {
        self.live().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> HeaderList {
        HeaderList::new([
            ("Cookie".to_string(), "a=1".to_string()),
            ("X-Id".to_string(), "one".to_string()),
            ("x-id".to_string(), "two".to_string()),
        ])
    }

    #[test]
    fn replace_takes_the_first_copy_and_marks_the_others_removed() {
        let mut h = list();
        h.set("x-id", "mine");
        let live: Vec<_> = h
            .live()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(live, [("Cookie", "a=1"), ("x-id", "mine")]);
        // The second copy is still in the list: nginx's proxy module forwards it.
        assert_eq!(h.all().len(), 3);
        assert_eq!(h.all()[2].value, "two");
    }

    #[test]
    fn a_removed_header_is_hidden_from_maps_but_not_from_single_reads() {
        let mut h = list();
        h.remove("cookie");
        assert_eq!(h.live_count(), 2);
        assert_eq!(h.get("COOKIE"), Some("a=1"));
    }

    #[test]
    fn clear_then_set_appends() {
        let mut h = list();
        h.clear();
        h.set("X-Id", "new");
        assert_eq!(h.live_count(), 1);
        assert_eq!(h.all().len(), 4);
    }
}

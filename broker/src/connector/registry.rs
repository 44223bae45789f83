use std::sync::Arc;

use super::Connector;

/// The configured connectors, in config order.
#[derive(Clone, Default)]
pub struct Connectors {
    list: Vec<Arc<dyn Connector>>,
}

impl Connectors {
    pub fn new(list: Vec<Arc<dyn Connector>>) -> Self {
        Connectors { list }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Connector>> {
        self.list.iter().find(|c| c.id() == id)
    }

    pub fn all(&self) -> &[Arc<dyn Connector>] {
        &self.list
    }
}

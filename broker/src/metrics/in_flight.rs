use prometheus_client::metrics::gauge::Gauge;

/// Raises a gauge while alive; lowers it again on drop, also when the work fails or panics.
pub struct InFlight(Gauge);

impl InFlight {
    pub fn enter(gauge: &Gauge) -> Self {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

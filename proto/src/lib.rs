//! BuildKit's wire protocol as wasmpack's frontend speaks it: the LLB build
//! graph ([`pb`]) and the gateway's LLBBridge client ([`gateway`]). The
//! modules nest as the protobuf packages do, which the generated code's
//! cross-package paths rely on; the short names below are the ones to use.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

pub use moby::buildkit::v1::apicaps;
pub use moby::buildkit::v1::frontend as gateway;
pub use moby::buildkit::v1::types;

/// LLB: ops, definitions, platforms, source locations.
pub mod pb {
    tonic::include_proto!("pb");
}

pub mod moby {
    pub mod buildkit {
        pub mod v1 {
            /// The gateway API a frontend calls (LLBBridge).
            pub mod frontend {
                tonic::include_proto!("moby.buildkit.v1.frontend");
            }
            /// Capability records returned by Ping.
            pub mod apicaps {
                tonic::include_proto!("moby.buildkit.v1.apicaps");
            }
            /// Worker records (their platforms) returned by Ping.
            pub mod types {
                tonic::include_proto!("moby.buildkit.v1.types");
            }
        }
    }
}

pub mod fsutil {
    pub mod types {
        tonic::include_proto!("fsutil.types");
    }
}

pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

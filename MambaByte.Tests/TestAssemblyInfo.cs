// Test classes run one at a time. TorchSharp's Scalar has a finalizer, and an implicit Scalar (e.g. AdamW's
// `alpha: -step_size`) is unreachable while its handle is inside the native call; a GC triggered by another test
// running in parallel can then free it mid-call (seen: "Expected false to be true" from c10::Scalar::toFloat, and a
// segfault in libtorch_cpu). Tests also change process-wide torch settings (thread count). On 2 cores parallel
// test classes bought little speed anyway.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

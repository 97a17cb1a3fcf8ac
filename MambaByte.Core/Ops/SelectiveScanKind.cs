namespace MambaByte.Core.Ops;

/// <summary>Which selective-scan implementation to run.</summary>
public enum SelectiveScanKind
{
    /// <summary>The fastest correct implementation for the tensors' device and dtype.</summary>
    Auto,

    /// <summary>Sequential loop in plain tensor ops: the definition.</summary>
    Reference,

    /// <summary>Chunked/log-depth parallel scan in tensor ops only; device-agnostic (the CUDA path).</summary>
    Parallel,

    /// <summary>C# SIMD kernel on raw CPU memory with a recomputing backward.</summary>
    FusedCpu,
}

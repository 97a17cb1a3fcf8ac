namespace MambaByte.Core.Architectures.Mamba;

/// <summary>Which implementation runs <see cref="Models.MambaLMHeadModel.Step"/>.</summary>
public enum StepKind
{
    /// <summary><see cref="Fused"/> where it applies (CPU, float32/float64, RMSNorm), <see cref="Reference"/> otherwise.</summary>
    Auto,

    /// <summary>The tensor-op step (<c>MambaBackbone.Step</c>): the definition, any device and dtype.</summary>
    Reference,

    /// <summary><see cref="FusedMambaDecoder"/>: the whole model's step in C# SIMD over preallocated buffers (CPU only).</summary>
    Fused,
}

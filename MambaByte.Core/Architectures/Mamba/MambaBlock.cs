using MambaByte.Core.Models;
using MambaByte.Core.Ops;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Modules;

namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// The pre-norm residual block of <c>mamba_ssm/modules/block.py</c> in its residual-passing form:
/// residual = hidden + residual (or hidden for the first block); hidden = mixer(norm(residual)). The caller adds
/// the last mixer output to the residual before the final norm. With <c>residual_in_fp32</c>, a half or bfloat16
/// residual stream is kept in float32 (float32 and float64 streams are left as they are).
/// </summary>
public sealed class MambaBlock : nn.Module<Tensor, Tensor>
{
    readonly bool residualInFp32;
#pragma warning disable IDE1006 // state_dict names follow the reference
    readonly MambaMixer mixer;
    readonly nn.Module<Tensor, Tensor> norm;
#pragma warning restore IDE1006

    public MambaBlock(MambaConfig config) : base(nameof(MambaBlock))
    {
        residualInFp32 = config.ResidualInFp32;
        mixer = new MambaMixer(config);
        norm = config.RmsNorm ? new RMSNorm(config.DModel, config.NormEpsilon) : nn.LayerNorm(config.DModel, config.NormEpsilon);
        RegisterComponents();
    }

    public MambaMixer Mixer => mixer;

    /// <summary>A single block applied alone: mixer(norm(x)) + x.</summary>
    public override Tensor forward(Tensor hidden)
    {
        var (output, residual) = Forward(hidden, null, null, SelectiveScanKind.Auto);
        using (output) using (residual) return (output + residual).to_type(hidden.dtype);
    }

    /// <summary>(hidden, residual) → (mixer output, new residual), both (b, l, d_model).</summary>
    public (Tensor Hidden, Tensor Residual) Forward(Tensor hidden, Tensor? residual, MambaLayerState? state, SelectiveScanKind scanKind,
        MixerKind mixerKind = MixerKind.Auto)
    {
        using var scope = NewDisposeScope();
        Tensor normed, newResidual;
        if (MambaMixer.Resolve(mixerKind, scanKind, hidden) == MixerKind.Fused && norm is RMSNorm rms
            && FusedAddNorm.Supports(hidden, residual, rms.Weight, SumDtype(hidden, residual), mixer.ProjectionDtype))
        {
            // The add and the norm in one pass, the normed output straight in the projections' dtype.
            (normed, Tensor? sum) = FusedAddNorm.Apply(hidden, residual, rms.Weight, rms.Eps, mixer.ProjectionDtype, keepSum: true);
            newResidual = sum!;
        }
        else
        {
            newResidual = Accumulate(hidden, residual);
            normed = NormOf(newResidual);
        }
        Tensor output = mixer.Forward(normed, state, scanKind, mixerKind);
        return (output.MoveToOuterDisposeScope(), newResidual.MoveToOuterDisposeScope());
    }

    /// <summary>The recurrent form over (b, d_model).</summary>
    public (Tensor Hidden, Tensor Residual) Step(Tensor hidden, Tensor? residual, MambaLayerState state)
    {
        using var scope = NewDisposeScope();
        Tensor newResidual = Accumulate(hidden, residual);
        Tensor output = mixer.Step(NormOf(newResidual), state);
        return (output.MoveToOuterDisposeScope(), newResidual.MoveToOuterDisposeScope());
    }

    Tensor Accumulate(Tensor hidden, Tensor? residual)
    {
        Tensor sum = residual is null ? hidden.alias() : hidden + residual;
        ScalarType dtype = SumDtype(hidden, residual);
        return sum.dtype == dtype ? sum : sum.to_type(dtype);
    }

    /// <summary>The dtype <see cref="Accumulate"/> gives the residual stream.</summary>
    ScalarType SumDtype(Tensor hidden, Tensor? residual)
    {
        ScalarType sum = residual is null ? hidden.dtype : promote_types(hidden.dtype, residual.dtype);
        return residualInFp32 && sum is ScalarType.Float16 or ScalarType.BFloat16 ? ScalarType.Float32 : sum;
    }

    /// <summary>Mixed precision: the mixer's A_log, D and dt_proj.bias and this block's norm weight back to float32.</summary>
    internal void KeepFloat32()
    {
        mixer.KeepFloat32();
        norm.to(ScalarType.Float32);
    }

    // The reference casts the residual to the norm weight's dtype before norming (float32 under mixed precision).
    Tensor NormOf(Tensor residual) => norm.forward(residual.to_type(NormDtype));

    ScalarType NormDtype => norm.parameters().First().dtype;   // the parameter itself: not a wrapper to dispose
}

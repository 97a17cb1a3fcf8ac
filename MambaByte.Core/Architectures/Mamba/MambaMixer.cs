using MambaByte.Core.Models;
using MambaByte.Core.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// The Mamba (S6) mixer of <c>mamba_ssm/modules/mamba_simple.py</c>: in_proj → (x, z), causal depthwise conv then
/// SiLU, x_proj → (Δ low-rank, B, C), dt_proj, selective scan with softplus(Δ + dt_proj.bias) and the z gate,
/// out_proj. Field names are the reference's so <c>state_dict()</c> keys match <c>mamba_ssm</c>.
/// </summary>
public sealed class MambaMixer : nn.Module<Tensor, Tensor>
{
    readonly MambaConfig config;
#pragma warning disable IDE1006 // state_dict names follow the reference
    readonly Linear in_proj;
    readonly Conv1d conv1d;
    readonly Linear x_proj;
    readonly Linear dt_proj;
    readonly Linear out_proj;
    Parameter A_log;
    Parameter D;
#pragma warning restore IDE1006

    /// <summary>
    /// Builds the mixer with the reference's initialisation (torch's global generator: seed it before).
    /// Linear/Conv1d weights keep torch's default init here; <see cref="MambaLMHeadModel"/> then applies
    /// <c>_init_weights</c> (zero Linear biases except dt_proj's, rescaled out_proj).
    /// </summary>
    public MambaMixer(MambaConfig config) : base(nameof(MambaMixer))
    {
        this.config = config;
        int dModel = config.DModel, dInner = config.DInner, dtRank = config.ResolvedDtRank, dState = config.DState;

        in_proj = nn.Linear(dModel, 2 * dInner, hasBias: config.Bias);
        conv1d = nn.Conv1d(dInner, dInner, config.DConv, groups: dInner, bias: config.ConvBias);
        x_proj = nn.Linear(dInner, dtRank + 2 * dState, hasBias: false);
        dt_proj = nn.Linear(dtRank, dInner, hasBias: true);
        out_proj = nn.Linear(dInner, dModel, hasBias: config.Bias);

        using (no_grad())
        {
            // dt_proj.weight: keeps the variance of Δ at initialisation independent of dt_rank.
            double dtInitStd = Math.Pow(dtRank, -0.5) * config.DtScale;
            if (config.DtInit == "constant") dt_proj.weight!.fill_(dtInitStd);
            else dt_proj.weight!.uniform_(-dtInitStd, dtInitStd);

            // dt_proj.bias = softplus⁻¹(dt) with dt log-uniform in [dt_min, dt_max], floored, so softplus(bias) = dt.
            using Tensor dt = (rand(dInner) * (Math.Log(config.DtMax) - Math.Log(config.DtMin)) + Math.Log(config.DtMin))
                .exp().clamp_min(config.DtInitFloor);
            using Tensor invDt = dt + (-(-dt).expm1()).log();
            dt_proj.bias!.copy_(invDt);
        }

        // S4D-real initialisation: A = -(1..d_state) for every channel.
        using (Tensor a = arange(1, dState + 1, dtype: ScalarType.Float32).repeat(dInner, 1))   // (d_inner, d_state)
            A_log = new Parameter(a.log());
        D = new Parameter(ones(dInner));
        RegisterComponents();
    }

    internal Linear InProj => in_proj;

    /// <summary>
    /// Mixed precision as mamba_ssm runs it: after a whole-model cast to bfloat16/float16, A_log, D and dt_proj.bias
    /// go back to float32 (they set the decay rates and step sizes, where bf16's 8-bit mantissa costs 3.5e-3 in A_log).
    /// </summary>
    internal void KeepFloat32()
    {
        using var noGrad = no_grad();
        A_log = new Parameter(A_log.to_type(ScalarType.Float32));
        ConditionallyRegisterParameter(nameof(A_log), A_log);
        D = new Parameter(D.to_type(ScalarType.Float32));
        ConditionallyRegisterParameter(nameof(D), D);
        dt_proj.bias = new Parameter(dt_proj.bias!.to_type(ScalarType.Float32));
    }
    internal Linear DtProj => dt_proj;
    internal Linear OutProj => out_proj;

    public override Tensor forward(Tensor hidden) => Forward(hidden, null, SelectiveScanKind.Auto);

    /// <summary>
    /// The parallel forward over (b, l, d_model). With a <paramref name="state"/>, the conv continues from its
    /// conv state, the scan starts from its SSM state, and both are overwritten with the state after the last
    /// position (a fresh zero state gives exactly the reference's prefill).
    /// </summary>
    public Tensor Forward(Tensor hidden, MambaLayerState? state, SelectiveScanKind scanKind, MixerKind mixerKind = MixerKind.Auto)
    {
        if (Resolve(mixerKind, scanKind, hidden) == MixerKind.Fused) return ForwardFused(hidden, state);
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        int dInner = config.DInner, dConv = config.DConv, dtRank = config.ResolvedDtRank, dState = config.DState;

        hidden = hidden.to_type(in_proj.weight!.dtype);                                        // norms run in float32
        Tensor xz = in_proj.forward(hidden).transpose(1, 2);                                   // (b, 2*d_inner, l)
        Tensor[] parts = xz.chunk(2, dim: 1);
        Tensor x = parts[0], z = parts[1];                                                     // (b, d_inner, l) each

        Tensor left = state is null
            ? zeros([batch, dInner, dConv - 1], dtype: x.dtype, device: x.device)
            : state.ConvState.narrow(2, 1, dConv - 1).to_type(x.dtype);                        // (b, d_inner, d_conv-1)
        Tensor padded = cat([left, x], dim: 2);                                                // (b, d_inner, d_conv-1+l)
        Tensor xc = F.silu(F.conv1d(padded, conv1d.weight!, conv1d.bias, groups: dInner));    // (b, d_inner, l)

        Tensor xDbl = x_proj.forward(xc.transpose(1, 2));                                      // (b, l, dt_rank+2*d_state)
        Tensor dtLow = xDbl.narrow(-1, 0, dtRank);                                             // (b, l, dt_rank)
        Tensor B = xDbl.narrow(-1, dtRank, dState).transpose(1, 2);                            // (b, d_state, l)
        Tensor C = xDbl.narrow(-1, dtRank + dState, dState).transpose(1, 2);                   // (b, d_state, l)
        Tensor delta = F.linear(dtLow, dt_proj.weight!).transpose(1, 2);                       // (b, d_inner, l), bias goes to the scan

        ScalarType compute = SelectiveScan.ComputeType(x.dtype);
        Tensor A = -A_log.to_type(compute).exp();                                              // (d_inner, d_state)
        ScanResult scan = SelectiveScan.Run(scanKind, xc.contiguous(), delta.contiguous(), A, B.contiguous(), C.contiguous(),
            D: D.to_type(compute), z: z.contiguous(), deltaBias: dt_proj.bias!.to_type(compute), deltaSoftplus: true,
            initialState: state?.SsmState.clone(), returnLastState: state is not null);   // a copy: autograd may keep it, and the state is overwritten below

        if (state is not null)
        {
            using (no_grad())
            {
                state.ConvState.copy_(padded.narrow(2, padded.shape[2] - dConv, dConv));
                state.SsmState.copy_(scan.LastState!);
            }
        }
        Tensor output = out_proj.forward(scan.Y.transpose(1, 2));                              // (b, l, d_model)
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>The dtype of the projections (in_proj's weight): bfloat16 under mixed precision, where the norms run in float32.</summary>
    internal ScalarType ProjectionDtype => in_proj.weight!.dtype;

    /// <summary>
    /// The implementation <see cref="Forward"/> runs for <paramref name="kind"/>: Auto is <see cref="MixerKind.Fused"/>
    /// for CPU tensors unless the scan kind forces a tensor-op scan (Reference or Parallel).
    /// </summary>
    public static MixerKind Resolve(MixerKind kind, SelectiveScanKind scanKind, Tensor hidden) => kind switch
    {
        MixerKind.Auto when FusedMixer.Supports(hidden.device, hidden.dtype) && scanKind is SelectiveScanKind.Auto or SelectiveScanKind.FusedCpu => MixerKind.Fused,
        MixerKind.Auto => MixerKind.TensorOps,
        _ => kind,
    };

    /// <summary>
    /// <see cref="Forward"/> through the fused kernels: the same computation in the (b, l, ·) layout of the projections,
    /// with no transpose, padding or contiguous copy between in_proj and out_proj.
    /// </summary>
    Tensor ForwardFused(Tensor hidden, MambaLayerState? state)
    {
        using var scope = NewDisposeScope();
        long length = hidden.shape[1];
        int dInner = config.DInner, dConv = config.DConv, dtRank = config.ResolvedDtRank;

        hidden = hidden.to_type(in_proj.weight!.dtype);                                        // norms run in float32
        if (state is null)                                                                     // the whole layer in one node
        {
            return FusedMixer.Mixer(hidden, in_proj.weight!, in_proj.bias, conv1d.weight!, conv1d.bias, x_proj.weight!, dt_proj.weight!,
                dt_proj.bias!, A_log, D, out_proj.weight!, out_proj.bias, dtRank).MoveToOuterDisposeScope();
        }
        ScalarType compute = SelectiveScan.ComputeType(hidden.dtype);
        Tensor xz = in_proj.forward(hidden).to_type(compute);                                  // (b, l, 2*d_inner), read by both kernels
        Tensor? left = state?.ConvState.narrow(2, 1, dConv - 1);                               // (b, d_inner, d_conv-1)
        Tensor xc = FusedMixer.ConvSilu(xz, conv1d.weight!, conv1d.bias, left);                // (b, l, d_inner), compute dtype
        Tensor xDbl = x_proj.forward(xc.to_type(hidden.dtype));                                // (b, l, dt_rank+2*d_state)
        Tensor delta = F.linear(xDbl.narrow(-1, 0, dtRank), dt_proj.weight!);                  // (b, l, d_inner), bias goes to the scan

        ScanResult scan = FusedMixer.Scan(xc, delta, A_log, xDbl, dtRank, D, xz, dt_proj.bias,          // A = −exp(A_log) inside
            state?.SsmState.clone(), deltaSoftplus: true, returnLastState: state is not null, aIsLog: true); // a copy: autograd may keep it

        if (state is not null)
        {
            using (no_grad())
            {
                long kept = Math.Min(length, dConv);
                Tensor tail = xz.narrow(1, length - kept, kept).narrow(2, 0, dInner).transpose(1, 2); // (b, d_inner, kept)
                Tensor window = cat([left!.to_type(tail.dtype), tail], dim: 2);                 // (b, d_inner, d_conv-1+kept)
                state.ConvState.copy_(window.narrow(2, window.shape[2] - dConv, dConv));
                state.SsmState.copy_(scan.LastState!);
            }
        }
        Tensor output = out_proj.forward(scan.Y.to_type(hidden.dtype));                        // (b, l, d_model)
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One recurrent step as the reference <c>Mamba.step</c>: (b, d_model) → (b, d_model), updating
    /// <paramref name="state"/> in place. Work and memory do not depend on how many bytes came before.
    /// </summary>
    public Tensor Step(Tensor hidden, MambaLayerState state)
    {
        using var scope = NewDisposeScope();
        int dtRank = config.ResolvedDtRank, dState = config.DState;

        hidden = hidden.to_type(in_proj.weight!.dtype);                                        // norms run in float32
        Tensor[] parts = in_proj.forward(hidden).chunk(2, dim: -1);
        Tensor x = parts[0], z = parts[1];                                                     // (b, d_inner) each

        // Roll the conv window left by one and append x, then the depthwise conv is a dot product over the window.
        state.ConvState.copy_(cat([state.ConvState.narrow(2, 1, config.DConv - 1), x.unsqueeze(-1).to_type(state.ConvState.dtype)], dim: 2));
        Tensor xc = (state.ConvState.to_type(x.dtype) * conv1d.weight!.squeeze(1)).sum(-1);     // (b, d_inner)
        if (conv1d.bias is not null) xc = xc + conv1d.bias;
        xc = F.silu(xc);

        Tensor xDbl = x_proj.forward(xc);                                                      // (b, dt_rank+2*d_state)
        ScalarType compute = state.SsmState.dtype;
        Tensor dtLow = xDbl.narrow(-1, 0, dtRank);
        Tensor B = xDbl.narrow(-1, dtRank, dState).to_type(compute);                           // (b, d_state)
        Tensor C = xDbl.narrow(-1, dtRank + dState, dState).to_type(compute);                  // (b, d_state)
        Tensor dt = F.softplus((F.linear(dtLow, dt_proj.weight!) + dt_proj.bias!).to_type(compute)); // (b, d_inner)
        Tensor A = -A_log.to_type(compute).exp();                                              // (d_inner, d_state)

        Tensor dA = (dt.unsqueeze(-1) * A).exp();                                              // (b, d_inner, d_state)
        Tensor dBx = (dt * xc.to_type(compute)).unsqueeze(-1) * B.unsqueeze(1);                // (b, d_inner, d_state)
        state.SsmState.copy_(state.SsmState * dA + dBx);
        Tensor y = (state.SsmState * C.unsqueeze(1)).sum(-1) + D.to_type(compute) * xc.to_type(compute); // (b, d_inner)
        y = (y * F.silu(z.to_type(compute))).to_type(hidden.dtype);
        return out_proj.forward(y).MoveToOuterDisposeScope();                                  // (b, d_model)
    }
}

using MambaByte.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Core.Generation;

/// <summary>
/// Speculative decoding (Leviathan et al. 2023; Chen et al. 2023) with a small byte-level Mamba as the draft. Each
/// round the draft proposes K bytes by its recurrent step, drawing x_i from its sampling distribution q_i; the
/// target scores all K in one chunked <see cref="ByteLanguageModel.Prefill"/> from its state, giving p_1 … p_{K+1};
/// x_i is accepted with probability min(1, p_i(x_i) / q_i(x_i)); at the first rejection a byte is drawn from
/// norm(max(0, p_i − q_i)) and the round ends; if all K are accepted a bonus byte is drawn from p_{K+1}. The
/// emitted bytes are then distributed exactly as sampling the target alone (p and q are the distributions after
/// temperature, top-k and top-p); greedy (temperature 0) emits exactly the target's greedy bytes.
/// After a rejection both states are restored to the round's start and the accepted prefix plus the new byte is
/// re-run through one prefill, so after every round each model's state is the state of scoring all emitted bytes.
/// </summary>
public sealed class SpeculativeDecoder : IDisposable
{
    const int V = ByteLanguageModel.ByteVocabulary;
    readonly MambaLMHeadModel target, draft;
    readonly int draftBytes;
    readonly SamplingOptions sampling;
    readonly SplitMix64 random;
    readonly MambaInferenceState targetSaved, draftSaved;
    readonly float[] targetRow = new float[V], draftRow = new float[V];
    readonly double[][] proposals;
    readonly double[] p = new double[V];

    public SpeculativeDecoder(MambaLMHeadModel target, MambaLMHeadModel draft, int draftBytes, SamplingOptions sampling, ReadOnlySpan<byte> prompt)
    {
        if (draftBytes < 1) throw new ArgumentException($"--draft-bytes {draftBytes}: expected >= 1");
        if (prompt.Length == 0) throw new ArgumentException("the prompt is empty: generation needs at least one byte to condition on");
        sampling.Validate();
        (this.target, this.draft, this.draftBytes, this.sampling) = (target, draft, draftBytes, sampling);
        random = new SplitMix64(sampling.Seed);
        proposals = [.. Enumerable.Range(0, draftBytes).Select(_ => new double[V])];
        TargetState = (MambaInferenceState)target.NewState(1);
        DraftState = (MambaInferenceState)draft.NewState(1);
        targetSaved = (MambaInferenceState)target.NewState(1);
        draftSaved = (MambaInferenceState)draft.NewState(1);
        Score(target, prompt, TargetState, targetRow);
        Score(draft, prompt, DraftState, draftRow);
    }

    /// <summary>The target's state after every emitted byte (and the prompt).</summary>
    public MambaInferenceState TargetState { get; }

    public MambaInferenceState DraftState { get; }

    public long Rounds { get; private set; }
    public long Proposed { get; private set; }
    public long Accepted { get; private set; }

    /// <summary>One round: 1 … K+1 new bytes.</summary>
    public byte[] Round()
    {
        using var noGrad = no_grad();
        targetSaved.CopyFrom(TargetState);
        draftSaved.CopyFrom(DraftState);
        var x = new byte[draftBytes];
        for (int i = 0; i < draftBytes; i++)
        {
            ByteSampler.Distribution(sampling, draftRow, proposals[i]);
            x[i] = ByteSampler.Draw(proposals[i], random.NextDouble());
            draft.StepInto([x[i]], DraftState, draftRow);
        }
        float[] scored = new float[draftBytes * V];                                           // p_2 … p_{K+1}
        using (var scope = NewDisposeScope())
        {
            Tensor logits = target.Prefill(Ids(x), TargetState);                              // (1, K, 256)
            using Tensor host = logits[0].to(float32).contiguous();
            host.data<float>().CopyTo(scored);
        }
        Rounds++;
        Proposed += draftBytes;
        for (int i = 0; i < draftBytes; i++)
        {
            ByteSampler.Distribution(sampling, i == 0 ? targetRow : scored.AsSpan((i - 1) * V, V), p);
            double[] q = proposals[i];
            double u = random.NextDouble();
            if (u * q[x[i]] < p[x[i]]) continue;                                               // accept: u < p/q (q(x) > 0, x was drawn from q)
            // Rejected: draw from the residual max(0, p − q), then re-run the accepted prefix and the new byte.
            for (int v = 0; v < V; v++) p[v] = Math.Max(0, p[v] - q[v]);
            byte y = ByteSampler.Draw(p, random.NextDouble());
            Accepted += i;
            byte[] emitted = [.. x.AsSpan(0, i), y];
            TargetState.CopyFrom(targetSaved);
            DraftState.CopyFrom(draftSaved);
            Score(target, emitted, TargetState, targetRow);
            Score(draft, emitted, DraftState, draftRow);
            return emitted;
        }
        Accepted += draftBytes;
        ByteSampler.Distribution(sampling, scored.AsSpan((draftBytes - 1) * V, V), p);
        byte bonus = ByteSampler.Draw(p, random.NextDouble());
        target.StepInto([bonus], TargetState, targetRow);
        draft.StepInto([bonus], DraftState, draftRow);
        return [.. x, bonus];
    }

    /// <summary>Generates <paramref name="maxBytes"/> bytes after the prompt (the last round's surplus cut off).</summary>
    public static (GenerationResult Result, SpeculativeDecoder Decoder) Generate(
        MambaLMHeadModel target, MambaLMHeadModel draft, int draftBytes, ReadOnlySpan<byte> prompt, int maxBytes, SamplingOptions sampling,
        Action<byte>? onByte = null, CancellationToken cancellationToken = default)
    {
        if (maxBytes < 0) throw new ArgumentException($"--max-bytes {maxBytes}: expected >= 0");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var targetMode = InferenceMode.Enter(target);
        using var draftMode = InferenceMode.Enter(draft);
        var decoder = new SpeculativeDecoder(target, draft, draftBytes, sampling, prompt);
        var output = new List<byte>(maxBytes);
        while (output.Count < maxBytes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (byte b in decoder.Round())
            {
                if (output.Count == maxBytes) break;
                output.Add(b);
                onByte?.Invoke(b);
            }
        }
        return (new GenerationResult([.. output], clock.Elapsed), decoder);
    }

    static void Score(MambaLMHeadModel model, ReadOnlySpan<byte> bytes, MambaInferenceState state, float[] lastRow)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor logits = model.Prefill(Ids(bytes), state);                                       // (1, l, 256)
        using Tensor host = logits[0, -1].to(float32).contiguous();
        host.data<float>().CopyTo(lastRow);
    }

    static Tensor Ids(ReadOnlySpan<byte> bytes)
    {
        long[] ids = new long[bytes.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = bytes[i];
        return tensor(ids, [1, ids.Length]);                                                   // (1, l)
    }

    public void Dispose()
    {
        TargetState.Dispose();
        DraftState.Dispose();
        targetSaved.Dispose();
        draftSaved.Dispose();
    }
}

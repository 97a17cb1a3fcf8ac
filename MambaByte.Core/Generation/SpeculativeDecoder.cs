using MambaByte.Core.Models;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Core.Generation;

/// <summary>
/// Speculative decoding (Leviathan et al. 2023; Chen et al. 2023) with a small byte-level Mamba as the draft. Each
/// round the draft proposes K bytes by its recurrent step, drawing x_i from its sampling distribution q_i; the
/// target scores all K in one chunk step from its state (<see cref="MambaLMHeadModel.StepChunkInto"/>: the fused
/// products read the weights once for the K positions; the reference step runs the chunk as a
/// <see cref="ByteLanguageModel.Prefill"/>, and both give the same logits), giving p_1 … p_{K+1}; x_i is accepted
/// with probability min(1, p_i(x_i) / q_i(x_i)); at the first rejection a byte is drawn from norm(max(0, p_i − q_i))
/// and the round ends; if all K are accepted a bonus byte is drawn from p_{K+1}. The emitted bytes are then
/// distributed exactly as sampling the target alone (p and q are the distributions after temperature, top-k and
/// top-p); greedy (temperature 0) emits exactly the target's greedy bytes.
///
/// The target does not step the round's last emitted byte on its own: that byte is "pending" and leads the next
/// round's chunk (K + 1 positions), so a round costs one chunk of the target and K + 1 draft steps.
/// After a rejection the states go back to the last accepted byte by <see cref="SpeculativeRestore"/>: copying
/// the chunk's kept per-position state, or restoring the round's start and running the accepted prefix again.
/// </summary>
public sealed class SpeculativeDecoder : IDisposable
{
    const int V = ByteLanguageModel.ByteVocabulary;
    readonly MambaLMHeadModel target, draft;
    readonly int draftBytes;
    readonly SamplingOptions sampling;
    readonly SplitMix64 random;
    readonly MambaInferenceState targetState, targetSaved, draftSaved;
    readonly float[] targetRow = new float[V], draftRow = new float[V];
    readonly float[] scored, draftScratch;
    readonly byte[] chunk;
    readonly double[][] proposals;
    readonly double[] p = new double[V];
    // Snapshot slots: target 0 … K for the chunk's positions, K + 1 for the state after a committed pending byte;
    // draft 0 … K − 1 for the proposals, K for the round's start.
    readonly int targetStartSlot, draftStartSlot;
    byte? pending;

    public SpeculativeDecoder(MambaLMHeadModel target, MambaLMHeadModel draft, int draftBytes, SamplingOptions sampling, ReadOnlySpan<byte> prompt,
        SpeculativeRestore restore = SpeculativeRestore.Snapshots)
    {
        if (draftBytes < 1) throw new ArgumentException($"--draft-bytes {draftBytes}: expected >= 1");
        if (prompt.Length == 0) throw new ArgumentException("the prompt is empty: generation needs at least one byte to condition on");
        sampling.Validate();
        (this.target, this.draft, this.draftBytes, this.sampling) = (target, draft, draftBytes, sampling);
        Restore = restore == SpeculativeRestore.Snapshots && target.KeepsSnapshots && draft.KeepsSnapshots ? SpeculativeRestore.Snapshots : SpeculativeRestore.Rerun;
        (targetStartSlot, draftStartSlot) = (draftBytes + 1, draftBytes);
        random = new SplitMix64(sampling.Seed);
        proposals = [.. Enumerable.Range(0, draftBytes).Select(_ => new double[V])];
        scored = new float[(draftBytes + 1) * V];
        draftScratch = new float[(draftBytes + 1) * V];
        chunk = new byte[draftBytes + 1];
        targetState = (MambaInferenceState)target.NewState(1);
        DraftState = (MambaInferenceState)draft.NewState(1);
        targetSaved = (MambaInferenceState)target.NewState(1);
        draftSaved = (MambaInferenceState)draft.NewState(1);
        using var noGrad = no_grad();
        Prefill(target, prompt[..^1], targetState);
        Prefill(draft, prompt[..^1], DraftState);
        pending = prompt[^1];
        draft.StepChunkInto(prompt[^1..], DraftState, draftRow, DraftSnapshot(draftStartSlot));
    }

    /// <summary>The strategy in use (<see cref="SpeculativeRestore.Rerun"/> where snapshots were asked for but a model runs the reference step).</summary>
    public SpeculativeRestore Restore { get; }

    /// <summary>
    /// The target's state after every emitted byte (and the prompt). Reading it steps the pending byte now instead
    /// of in the next round's chunk (the emitted bytes do not change, only the work).
    /// </summary>
    public MambaInferenceState TargetState
    {
        get
        {
            if (pending is byte b)
            {
                using var noGrad = no_grad();
                target.StepChunkInto([b], targetState, targetRow, Restore == SpeculativeRestore.Snapshots ? targetStartSlot : -1);
                pending = null;
            }
            return targetState;
        }
    }

    /// <summary>The draft's state after every emitted byte (and the prompt).</summary>
    public MambaInferenceState DraftState { get; }

    public long Rounds { get; private set; }
    public long Proposed { get; private set; }
    public long Accepted { get; private set; }

    /// <summary>One round: 1 … K+1 new bytes.</summary>
    public byte[] Round()
    {
        using var noGrad = no_grad();
        bool snapshots = Restore == SpeculativeRestore.Snapshots;
        if (!snapshots)
        {
            targetSaved.CopyFrom(targetState);
            draftSaved.CopyFrom(DraftState);
        }
        int lead = 0;
        if (pending is byte b) chunk[lead++] = b;
        var x = new byte[draftBytes];
        for (int i = 0; i < draftBytes; i++)
        {
            ByteSampler.Distribution(sampling, draftRow, proposals[i]);
            x[i] = ByteSampler.Draw(proposals[i], random.NextDouble());
            chunk[lead + i] = x[i];
            draft.StepChunkInto(x.AsSpan(i, 1), DraftState, draftRow, DraftSnapshot(i));
        }
        int length = lead + draftBytes;
        target.StepChunkInto(chunk.AsSpan(0, length), targetState, scored, snapshots ? 0 : -1);   // row r: after chunk[r]
        pending = null;
        Rounds++;
        Proposed += draftBytes;
        for (int i = 0; i < draftBytes; i++)
        {
            ByteSampler.Distribution(sampling, lead + i == 0 ? targetRow : scored.AsSpan((lead + i - 1) * V, V), p);
            double[] q = proposals[i];
            double u = random.NextDouble();
            if (u * q[x[i]] < p[x[i]]) continue;                                               // accept: u < p/q (q(x) > 0, x was drawn from q)
            // Rejected: draw from the residual max(0, p − q), then bring both models back to the accepted prefix.
            for (int v = 0; v < V; v++) p[v] = Math.Max(0, p[v] - q[v]);
            byte y = ByteSampler.Draw(p, random.NextDouble());
            Accepted += i;
            byte[] emitted = [.. x.AsSpan(0, i), y];
            RestoreTarget(lead + i);
            RestoreDraft(emitted);
            pending = y;
            return emitted;
        }
        Accepted += draftBytes;
        ByteSampler.Distribution(sampling, scored.AsSpan((length - 1) * V, V), p);
        byte bonus = ByteSampler.Draw(p, random.NextDouble());
        draft.StepChunkInto([bonus], DraftState, draftRow, DraftSnapshot(draftStartSlot));
        pending = bonus;
        return [.. x, bonus];
    }

    /// <summary>The target back to the state after the chunk's first <paramref name="accepted"/> positions.</summary>
    void RestoreTarget(int accepted)
    {
        if (Restore == SpeculativeRestore.Snapshots)
        {
            target.RestoreSnapshot(accepted > 0 ? accepted - 1 : targetStartSlot, targetState);
            return;
        }
        targetState.CopyFrom(targetSaved);
        if (accepted > 0) target.StepChunkInto(chunk.AsSpan(0, accepted), targetState, scored);
    }

    /// <summary>The draft back to the round's start plus <paramref name="emitted"/> (the accepted proposals and the residual byte).</summary>
    void RestoreDraft(byte[] emitted)
    {
        int accepted = emitted.Length - 1;
        if (Restore == SpeculativeRestore.Snapshots)
        {
            draft.RestoreSnapshot(accepted > 0 ? accepted - 1 : draftStartSlot, DraftState);
            draft.StepChunkInto(emitted.AsSpan(accepted), DraftState, draftRow, draftStartSlot);
            return;
        }
        DraftState.CopyFrom(draftSaved);
        draft.StepChunkInto(emitted, DraftState, draftScratch);
        draftScratch.AsSpan(accepted * V, V).CopyTo(draftRow);
    }

    int DraftSnapshot(int slot) => Restore == SpeculativeRestore.Snapshots ? slot : -1;

    /// <summary>Generates <paramref name="maxBytes"/> bytes after the prompt (the last round's surplus cut off).</summary>
    public static (GenerationResult Result, SpeculativeDecoder Decoder) Generate(
        MambaLMHeadModel target, MambaLMHeadModel draft, int draftBytes, ReadOnlySpan<byte> prompt, int maxBytes, SamplingOptions sampling,
        Action<byte>? onByte = null, CancellationToken cancellationToken = default, SpeculativeRestore restore = SpeculativeRestore.Snapshots)
    {
        if (maxBytes < 0) throw new ArgumentException($"--max-bytes {maxBytes}: expected >= 0");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var targetMode = InferenceMode.Enter(target);
        using var draftMode = InferenceMode.Enter(draft);
        var decoder = new SpeculativeDecoder(target, draft, draftBytes, sampling, prompt, restore);
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

    /// <summary>The prompt (but its last byte) through the parallel forward, which is fastest for long prompts.</summary>
    static void Prefill(MambaLMHeadModel model, ReadOnlySpan<byte> bytes, MambaInferenceState state)
    {
        if (bytes.Length == 0) return;
        long[] ids = new long[bytes.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = bytes[i];
        using var scope = NewDisposeScope();
        model.Prefill(tensor(ids, [1, ids.Length]), state);
    }

    public void Dispose()
    {
        targetState.Dispose();
        DraftState.Dispose();
        targetSaved.Dispose();
        draftSaved.Dispose();
    }
}

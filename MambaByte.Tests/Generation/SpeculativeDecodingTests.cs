using System.Text;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using MambaByte.Train;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Generation;

/// <summary>Speculative decoding against the target alone: greedy bytes, the sampled distribution, and the states.</summary>
public sealed class SpeculativeDecodingTests
{
    static MambaLMHeadModel Target()
    {
        var model = new MambaLMHeadModel(new MambaConfig { DModel = 24, NLayer = 2, DState = 6 }, seed: 31);
        model.to(float64);
        return model;
    }

    static MambaLMHeadModel Draft()
    {
        var model = new MambaLMHeadModel(new MambaConfig { DModel = 16, NLayer = 1, DState = 4 }, seed: 32);
        model.to(float64);
        return model;
    }

    static readonly byte[] Prompt = Encoding.UTF8.GetBytes("In the beginning");

    [Fact]
    public void Greedy_speculative_output_is_the_greedy_target_output()
    {
        SingleThreadedTorch.Ensure();
        using var target = Target();
        using var draft = Draft();
        var greedy = new SamplingOptions(Temperature: 0);
        byte[] alone = ByteGenerator.Generate(target, Prompt, 120, greedy).Bytes;
        var (result, decoder) = SpeculativeDecoder.Generate(target, draft, 4, Prompt, 120, greedy);
        using (decoder)
        {
            Assert.Equal(alone, result.Bytes);
            Assert.True(decoder.Accepted < decoder.Proposed, "the draft never disagreed: the rejection path went untested");
            Assert.True(decoder.Accepted > 0 || decoder.Rounds >= 30);
        }
    }

    [Fact]
    public void State_after_every_round_equals_scoring_the_emitted_bytes_alone()
    {
        SingleThreadedTorch.Ensure();
        using var target = Target();
        using var draft = Draft();
        using var noGrad = no_grad();
        using var decoder = new SpeculativeDecoder(target, draft, 3, new SamplingOptions(Temperature: 1, Seed: 5), Prompt);
        var text = new List<byte>(Prompt);
        int rejections = 0;
        for (int round = 0; round < 12; round++)
        {
            byte[] emitted = decoder.Round();
            if (emitted.Length < 4) rejections++;
            text.AddRange(emitted);
            foreach (var (model, state) in new[] { (target, decoder.TargetState), (draft, decoder.DraftState) })
                Assert.True(StateDiff(model, state, text) < 1e-10);
        }
        Assert.True(rejections > 0, "no round was rejected: the restore path went untested");
    }

    /// <summary>The largest difference between <paramref name="state"/> and prefilling <paramref name="text"/> from a fresh state (positions must agree).</summary>
    static double StateDiff(MambaLMHeadModel model, MambaInferenceState state, List<byte> text)
    {
        using var fresh = (MambaInferenceState)model.NewState(1);
        using var scope = NewDisposeScope();
        model.Prefill(tensor(text.Select(b => (long)b).ToArray(), [1, text.Count]), fresh);
        Assert.Equal(fresh.Position, state.Position);
        double diff = 0;
        for (int i = 0; i < fresh.Layers.Count; i++)
        {
            diff = Math.Max(diff, (fresh.Layers[i].ConvState - state.Layers[i].ConvState).abs().max().item<double>());
            diff = Math.Max(diff, (fresh.Layers[i].SsmState - state.Layers[i].SsmState).abs().max().item<double>());
        }
        return diff;
    }

    /// <summary>
    /// Rounds as generation runs them (the target's last emitted byte pending into the next chunk), with the target's
    /// state read only every fifth round: the draft's state after every round, and the target's when read, equal
    /// prefilling all emitted bytes; the snapshot restore and the re-run emit the same bytes.
    /// </summary>
    [Fact]
    public void Both_restores_keep_the_states_of_the_emitted_bytes_with_the_target_byte_pending()
    {
        SingleThreadedTorch.Ensure();
        using var target = Target();
        using var draft = Draft();
        using var noGrad = no_grad();
        var emittedBy = new Dictionary<SpeculativeRestore, List<byte>>();
        foreach (SpeculativeRestore restore in new[] { SpeculativeRestore.Snapshots, SpeculativeRestore.Rerun })
        {
            using var decoder = new SpeculativeDecoder(target, draft, 3, new SamplingOptions(Temperature: 1, Seed: 8), Prompt, restore);
            Assert.Equal(restore, decoder.Restore);
            var text = new List<byte>(Prompt);
            int rejections = 0;
            for (int round = 1; round <= 40; round++)
            {
                byte[] emitted = decoder.Round();
                if (emitted.Length < 4) rejections++;
                text.AddRange(emitted);
                Assert.True(StateDiff(draft, decoder.DraftState, text) < 1e-10, $"{restore}, round {round}: draft state");
                if (round % 5 == 0) Assert.True(StateDiff(target, decoder.TargetState, text) < 1e-10, $"{restore}, round {round}: target state");
            }
            Assert.True(rejections >= 3 && rejections < 40, $"{restore}: {rejections} of 40 rounds rejected: the paths are not all exercised");
            emittedBy[restore] = text;
        }
        Assert.Equal(emittedBy[SpeculativeRestore.Snapshots], emittedBy[SpeculativeRestore.Rerun]);
    }

    /// <summary>
    /// The fused chunk step against the old verification, the tensor-op prefill (the reference step kind): the same
    /// sampled bytes from the same seed and the same final states.
    /// </summary>
    [Fact]
    public void Fused_chunk_verification_emits_what_the_prefill_verification_emits()
    {
        SingleThreadedTorch.Ensure();
        using var target = Target();
        using var draft = Draft();
        var sampling = new SamplingOptions(Temperature: 1, Seed: 21);
        var (fusedResult, fused) = SpeculativeDecoder.Generate(target, draft, 4, Prompt, 150, sampling);
        MambaInferenceState fusedState = fused.TargetState;                                    // steps the pending byte while the fused step is selected
        target.StepKind = draft.StepKind = StepKind.Reference;
        var (referenceResult, reference) = SpeculativeDecoder.Generate(target, draft, 4, Prompt, 150, sampling);
        using (fused)
        using (reference)
        using (var noGrad = no_grad())
        {
            Assert.Equal(SpeculativeRestore.Snapshots, fused.Restore);
            Assert.Equal(SpeculativeRestore.Rerun, reference.Restore);                          // no snapshots without the fused step
            Assert.Equal(referenceResult.Bytes, fusedResult.Bytes);
            Assert.Equal((reference.Rounds, reference.Accepted), (fused.Rounds, fused.Accepted));
            Assert.True(fused.Accepted < fused.Proposed && fused.Accepted > 0);
            var (a, b) = (fusedState, reference.TargetState);
            for (int i = 0; i < a.Layers.Count; i++)
                Assert.True((a.Layers[i].SsmState - b.Layers[i].SsmState).abs().max().item<double>() < 1e-10);
        }
    }

    /// <summary>The CLI: <c>--draft-restore</c> rerun and snapshots print the plain greedy text; a wrong value is one clear error.</summary>
    [Fact]
    public void Generate_command_draft_restore_prints_the_greedy_text_and_rejects_unknown_values()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        using (var target = new MambaLMHeadModel(new MambaConfig { DModel = 24, NLayer = 2, DState = 6 }, seed: 31)) ModelCheckpoint.Save(target, temp.File("target"));
        using (var draft = new MambaLMHeadModel(new MambaConfig { DModel = 16, NLayer = 1, DState = 4 }, seed: 32)) ModelCheckpoint.Save(draft, temp.File("draft"));
        string[] common = ["generate", "--checkpoint", temp.File("target"), "--prompt", "In the beginning", "--max-bytes", "40", "--temperature", "0", "--device", "cpu"];
        var plain = new StringWriter();
        Assert.Equal(0, Cli.Run(common, plain, new StringWriter()));
        foreach (string restore in new[] { "snapshots", "rerun" })
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int exit = Cli.Run([.. common, "--draft", temp.File("draft"), "--draft-bytes", "3", "--draft-restore", restore], output, error);
            Assert.True(exit == 0, error.ToString());
            Assert.Equal(plain.ToString(), output.ToString());
            Assert.Contains($"3 per round, restore by {restore}", error.ToString());
        }
        var bad = new StringWriter();
        Assert.NotEqual(0, Cli.Run([.. common, "--draft", temp.File("draft"), "--draft-restore", "copy"], new StringWriter(), bad));
        Assert.Contains("--draft-restore copy: expected snapshots or rerun", bad.ToString());
    }

    /// <summary>
    /// Over many seeds, the first two speculative bytes (temperature 1, top-k 5, so at most 25 outcomes) follow the
    /// target's own two-byte distribution p(b1)·p(b2 | b1), computed exactly: Pearson's chi-square at significance
    /// 0.001 (critical value by the Wilson–Hilferty approximation).
    /// </summary>
    [Fact]
    public void Next_two_bytes_follow_the_target_distribution_by_chi_square()
    {
        SingleThreadedTorch.Ensure();
        using var target = Target();
        using var draft = Draft();
        using var noGrad = no_grad();
        var sampling = new SamplingOptions(Temperature: 1, TopK: 5, Seed: 0);

        // Exact target distribution of the next two bytes.
        var expected = new Dictionary<(byte, byte), double>();
        var first = new double[256];
        var row = new float[256];
        using (var state = (MambaInferenceState)target.NewState(1))
        using (var scope = NewDisposeScope())
        {
            Tensor logits = target.Prefill(tensor(Prompt.Select(b => (long)b).ToArray(), [1, Prompt.Length]), state);
            logits[0, -1].to(float32).data<float>().CopyTo(row);
            ByteSampler.Distribution(sampling, row, first);
            using var branch = (MambaInferenceState)target.NewState(1);
            var second = new double[256];
            for (int b1 = 0; b1 < 256; b1++)
            {
                if (first[b1] == 0) continue;
                branch.CopyFrom(state);
                target.StepInto([(byte)b1], branch, row);
                ByteSampler.Distribution(sampling, row, second);
                for (int b2 = 0; b2 < 256; b2++)
                    if (second[b2] > 0) expected[((byte)b1, (byte)b2)] = first[b1] * second[b2];
            }
        }

        const int runs = 2000;
        var counts = expected.Keys.ToDictionary(k => k, _ => 0);
        long proposed = 0, accepted = 0;
        for (int seed = 0; seed < runs; seed++)
        {
            var (result, decoder) = SpeculativeDecoder.Generate(target, draft, 2, Prompt, 2, sampling with { Seed = (ulong)seed });
            using (decoder)
            {
                proposed += decoder.Proposed;
                accepted += decoder.Accepted;
            }
            var pair = (result.Bytes[0], result.Bytes[1]);
            Assert.True(counts.ContainsKey(pair), $"seed {seed}: {pair} has probability 0 under the target");
            counts[pair]++;
        }
        Assert.True(accepted < proposed * 0.9, $"acceptance {accepted}/{proposed}: the draft agrees too often to test the residual draw");

        double chi = expected.Sum(e => Math.Pow(counts[e.Key] - runs * e.Value, 2) / (runs * e.Value));
        int df = expected.Count - 1;
        const double z = 3.0902;                                                              // standard normal 0.999 quantile
        double critical = df * Math.Pow(1 - 2.0 / (9 * df) + z * Math.Sqrt(2.0 / (9 * df)), 3);
        Assert.True(expected.Values.Min() * runs >= 5, "an outcome's expected count is below 5: chi-square does not apply");
        Assert.True(chi < critical, $"chi-square {chi:F1} over {df} degrees of freedom exceeds {critical:F1} (p < 0.001)");
    }
}

using System.Text.Json.Nodes;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Data;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Training;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.LongDocuments;

/// <summary><c>train --carry-state</c>: lanes of document streams, the Mamba state carried across windows and reset at document starts.</summary>
public sealed class CarriedStateTrainingTests
{
    static Tensor Bytes(byte[] bytes, int rows, int length) => tensor(bytes.Select(b => (long)b).ToArray(), [rows, length]);

    [Fact]
    public void Lanes_read_the_split_in_document_order_from_spread_offsets_and_wrap_at_its_end()
    {
        using var temp = new TempDir();
        byte[] a = LongDocumentFixtures.Text(50, 1), b = LongDocumentFixtures.Text(30, 2);
        using ByteStore store = ByteStore.Open(LongDocumentFixtures.Store(temp, [a, b]));
        ByteSplit split = store.Split("train");
        byte[] stream = [.. a, .. b];
        using var sampler = new DocumentStreamSampler(split, contextLength: 16, windows: 1, batchSize: 2, startByte: (byte)'#', prefetch: 2);
        Assert.Equal([0L, 40L], sampler.State.LanePositions);                     // ⌊r·80/2⌋

        var seen = new int[stream.Length];
        for (int k = 0; k < 3; k++)
        {
            ByteBatch batch = sampler.Next();
            for (int lane = 0; lane < 2; lane++)
            {
                long p = (new long[] { 0, 40 }[lane] + 16L * k) % stream.Length;
                Assert.Equal(p, batch.Offsets[lane]);
                for (int j = 0; j < 16; j++)
                {
                    long q = (p + j) % stream.Length, t = (p + j + 1) % stream.Length;
                    seen[t]++;
                    bool documentStart = t == 0 || t == a.Length;                 // b starts at byte 50, a at 0 (after the wrap)
                    Assert.Equal(documentStart, batch.ResetBefore![lane * 16 + j]);
                    Assert.Equal(documentStart ? (byte)'#' : stream[q], batch.Inputs[lane * 16 + j]);
                    Assert.Equal(stream[t], batch.Targets[lane * 16 + j]);
                }
            }
        }
        // 2 lanes × 3 windows × 16 = 96 targets over an 80-byte split: every byte once, 16 of them twice (lane 1 wrapped into lane 0's start).
        Assert.Equal(80, seen.Count(c => c >= 1));
        Assert.Equal(96, seen.Sum());
        Assert.Equal([(0L + 48) % 80, (40L + 48) % 80], sampler.State.LanePositions);
        Assert.Equal(3, sampler.State.NextBatch);
    }

    [Fact]
    public void Two_consecutive_windows_of_a_lane_equal_one_scan_over_their_concatenation()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        byte[] text = LongDocumentFixtures.Text(300, 3);
        File.WriteAllBytes(temp.File("doc.txt"), text);
        using ByteSplit split = ByteSplit.FromFile(temp.File("doc.txt"));
        using MambaLMHeadModel model = LongDocumentFixtures.TinyMamba(11);
        const int context = 16, lanes = 2;
        long[] starts = DocumentStreamSampler.SpreadLanes(text.Length, lanes);          // 0 and 150: no boundary in 33 bytes

        // The reference: one plain forward (zero state) over each lane's 2·context bytes.
        byte[] input = starts.SelectMany(s => text[(int)s..(int)(s + 2 * context)]).ToArray();
        byte[] target = starts.SelectMany(s => text[(int)(s + 1)..(int)(s + 2 * context + 1)]).ToArray();
        using Tensor referenceLoss = model.Loss(Bytes(input, lanes, 2 * context), Bytes(target, lanes, 2 * context));
        referenceLoss.backward();
        Dictionary<string, double[]> referenceGrads = Gradients(model);

        // --bptt-windows 1: two windows, the state carried (detached) from the first into the second.
        using (var sampler = new DocumentStreamSampler(split, context, windows: 1, lanes, DocumentStart.Newline, prefetch: 0))
        using (var carried = new CarriedState(model, lanes))
        using (no_grad())
        {
            double sum = 0;
            for (int k = 0; k < 2; k++)
            {
                ByteBatch batch = sampler.Next();
                Assert.DoesNotContain(true, batch.ResetBefore!);
                using Tensor loss = carried.Loss(model, Bytes(batch.Inputs, lanes, context), Bytes(batch.Targets, lanes, context), batch.ResetBefore);
                sum += loss.item<double>();
            }
            Assert.Equal(referenceLoss.item<double>(), sum / 2, 1e-10);
        }

        // --bptt-windows 2: nothing detaches between the two windows, so the gradients are the concatenation's too.
        using (var sampler = new DocumentStreamSampler(split, context, windows: 2, lanes, DocumentStart.Newline, prefetch: 0))
        using (var carried = new CarriedState(model, lanes))
        {
            ByteBatch batch = sampler.Next();
            Assert.Equal(2 * context, batch.Length);
            model.zero_grad();
            using Tensor loss = carried.Loss(model, Bytes(batch.Inputs, lanes, 2 * context), Bytes(batch.Targets, lanes, 2 * context), batch.ResetBefore);
            loss.backward();
            Assert.Equal(referenceLoss.item<double>(), loss.item<double>(), 1e-10);
            foreach ((string name, double[] grad) in Gradients(model))
                for (int i = 0; i < grad.Length; i++) Assert.Equal(referenceGrads[name][i], grad[i], 1e-10);
        }
    }

    [Fact]
    public void A_state_never_crosses_a_document_boundary()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        byte[] a = LongDocumentFixtures.Text(43, 4), b = LongDocumentFixtures.Text(57, 5);   // b starts inside window 2
        using ByteStore store = ByteStore.Open(LongDocumentFixtures.Store(temp, [a, b]));
        using MambaLMHeadModel model = LongDocumentFixtures.TinyMamba(12);
        const int context = 20, windows = 5;                                              // 100 targets: one pass, then a's first byte
        const byte start = DocumentStart.Newline;

        // Independently: a from a zero state as the lane starts it (its first byte is the lane's first input), then b
        // alone after the start byte, then a's first byte after the start byte (the wrap is a document start).
        double[] reference =
        [
            .. LongDocumentFixtures.ForwardNats(model, a[..^1], a[1..]),
            .. LongDocumentFixtures.ForwardNats(model, [start, .. b[..^1]], b),
            .. LongDocumentFixtures.ForwardNats(model, [start], a[..1]),
        ];
        Assert.Equal(100, reference.Length);

        double[] Losses(bool resets)
        {
            using var sampler = new DocumentStreamSampler(store.Split("train"), context, 1, 1, start, prefetch: 0);
            using var carried = new CarriedState(model, 1);
            using var noGrad = no_grad();
            var losses = new double[windows];
            for (int k = 0; k < windows; k++)
            {
                ByteBatch batch = sampler.Next();
                using Tensor loss = carried.Loss(model, Bytes(batch.Inputs, 1, context), Bytes(batch.Targets, 1, context), resets ? batch.ResetBefore : null);
                losses[k] = loss.item<double>();
            }
            return losses;
        }

        double[] carriedLosses = Losses(resets: true);
        for (int k = 0; k < windows; k++)
            Assert.Equal(reference.Skip(k * context).Take(context).Average(), carriedLosses[k], 1e-10);
        // Without the resets the state runs on from a into b and the figures change (the test can fail).
        double[] leaking = Losses(resets: false);
        Assert.True(Math.Abs(leaking[2] - carriedLosses[2]) > 1e-6, $"{leaking[2]} vs {carriedLosses[2]}");
    }

    static TrainOptions Options(string store, string run) => new()
    {
        Arch = "mamba", Preset = "tiny", Data = store, Out = run, Device = "cpu", Context = 16, BatchSize = 2, GradAccum = 2,
        CarryState = true, BpttWindows = 2, Lr = 5e-3, WarmupSteps = 1, MaxSteps = 6, LogEvery = 1, EvalEvery = 0,
        EvalSplit = "train", EvalBytes = 200, CheckpointEvery = 0, Tensorboard = false, Seed = 3,
    };

    static List<double> Losses(string run) =>
        MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").Select(r => r.Loss).ToList();

    [Fact]
    public void Resume_mid_stream_reproduces_the_uninterrupted_losses_bit_for_bit()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        // Five short documents (300 bytes): 6 steps × 2 micro-batches × 32 bytes per lane wrap and cross boundaries often.
        string store = LongDocumentFixtures.Store(temp, [.. Enumerable.Range(0, 5).Select(i => LongDocumentFixtures.Text(40 + 10 * i, 20 + i))]);
        string straight = temp.File("straight"), split = temp.File("split");

        using (var data = new TrainingData(Options(store, straight)))
            new Trainer(Options(store, straight), data.Services(), new PlainProgress(TextWriter.Null)).Run();

        using (var data = new TrainingData(Options(store, split)))
        {
            using var cancel = new CancellationTokenSource();
            var trainer = new Trainer(Options(store, split), data.Services(), new PlainProgress(TextWriter.Null))
            {
                StepCompleted = step => { if (step == 3) cancel.Cancel(); },
            };
            Assert.Equal(TrainingStopReason.Interrupted, trainer.Run(cancellationToken: cancel.Token).Reason);

            // The checkpoint holds what each lane reads next and the lanes' carried state (not zero mid-stream).
            string checkpoint = RunDirectory.Resolve(split);
            JsonObject sampler = RunDirectory.ReadState(checkpoint).Sampler;
            long[] positions = sampler["LanePositions"]!.AsArray().Select(p => p!.GetValue<long>()).ToArray();
            Assert.Equal(DocumentStreamSampler.SpreadLanes(300, 2).Select(p => (p + 3 * 2 * 32) % 300), positions);
            Dictionary<string, Tensor> state = Safetensors.Read(Path.Combine(checkpoint, CarriedState.FileName));
            Assert.Equal(2 * MambaConfig.Tiny.NLayer, state.Count);
            Assert.True(state["layers.0.ssm"].abs().sum().item<float>() > 0);
            foreach (Tensor t in state.Values) t.Dispose();

            new Trainer(Options(store, split), data.Services(), new PlainProgress(TextWriter.Null)).Run(resumeFrom: split);
        }

        List<double> expected = Losses(straight);
        Assert.Equal(6, expected.Count);
        Assert.Equal(expected, Losses(split));                                           // bit for bit
        Assert.Equal(6 * 2 * 2 * 32, MetricsLog.Read(Path.Combine(straight, "metrics.csv")).Last(r => r.Kind == "train").Bytes);
    }

    [Theory]
    [InlineData("transformer", "--carry-state")]
    [InlineData("megabyte", "--carry-state")]
    [InlineData("spacebyte", "--carry-state")]
    [InlineData("mamba", "--bptt-windows")]
    public void Carry_state_is_refused_with_one_line_where_it_cannot_apply(string arch, string option)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        string[] args = option == "--carry-state"
            ? ["train", "--arch", arch, "--carry-state", "--max-steps", "1", "--device", "cpu"]
            : ["train", "--arch", arch, "--bptt-windows", "2", "--max-steps", "1", "--device", "cpu"];
        int exit = Cli.Run(args, output, error);
        Assert.Equal(1, exit);
        string expected = option == "--carry-state"
            ? $"mambabyte: error: --carry-state: --arch {arch} has no recurrent state to carry across windows (only mamba)"
            : "mambabyte: error: --bptt-windows 2: needs --carry-state";
        Assert.Equal(expected, error.ToString().Trim());
    }

    static Dictionary<string, double[]> Gradients(MambaLMHeadModel model)
    {
        var result = new Dictionary<string, double[]>();
        foreach ((string name, TorchSharp.Modules.Parameter p) in model.named_parameters())
        {
            using Tensor? g = p.grad;
            if (g is not null) result[name] = g.to(float64).data<double>().ToArray();
        }
        return result;
    }
}

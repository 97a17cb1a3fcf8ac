using System.Text.Json.Nodes;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Tests.Jobs;

/// <summary>What one optimizer step does with its gradients: accumulation, clipping, and the non-finite stop.</summary>
public sealed class TrainingStepTests
{
    /// <summary>Every parameter's gradient (or weights) as float64 arrays, in parameter order.</summary>
    static double[][] Copy(IEnumerable<Tensor?> tensors)
    {
        using var scope = NewDisposeScope();
        return tensors.Select(t => t is null ? [] : t.detach().cpu().to(float64).data<double>().ToArray()).ToArray();
    }

    static double[][] Gradients(IReadOnlyList<Parameter> parameters)
    {
        var grads = parameters.Select(p => p.grad).ToList();   // each .grad read is a new wrapper
        try
        {
            return Copy(grads);
        }
        finally
        {
            foreach (Tensor? g in grads) g?.Dispose();
        }
    }

    static double Norm(double[][] values) => Math.Sqrt(values.Sum(v => v.Sum(x => x * x)));

    static void AssertClose(double[][] expected, double[][] actual, double tolerance)
    {
        Assert.Equal(expected.Select(e => e.Length), actual.Select(a => a.Length));
        for (int i = 0; i < expected.Length; i++)
            for (int j = 0; j < expected[i].Length; j++)
                Assert.True(Math.Abs(expected[i][j] - actual[i][j]) <= tolerance * (1 + Math.Abs(expected[i][j])),
                    $"tensor {i} element {j}: expected {expected[i][j]:R}, got {actual[i][j]:R}");
    }

    static List<double> Losses(string run) =>
        MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").Select(r => r.Loss).ToList();

    /// <summary>Batches of 2 × <paramref name="half"/> rows: micro-batches 2k and 2k + 1 of a <paramref name="half"/>-row stream side by side.</summary>
    sealed class PairedBatches(ITrainingBatches half) : ITrainingBatches
    {
        public JsonObject State => half.State;

        public TrainingBatch Next()
        {
            TrainingBatch a = half.Next(), b = half.Next();
            return new TrainingBatch(a.Rows + b.Rows, a.Length, [.. a.Inputs, .. b.Inputs], [.. a.Targets, .. b.Targets]);
        }

        public void Dispose() => half.Dispose();
    }

    [Fact]
    public void Two_micro_batches_of_four_equal_one_batch_of_eight_in_gradients_loss_and_weights()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        TrainOptions Options(string run, int batch, int accumulate) => TestTraining.Options(run) with
        {
            BatchSize = batch, GradAccum = accumulate, GradClip = 0, MaxSteps = 3, EvalEvery = 0,
        };

        (List<double[][]> Gradients, double[][] Weights, List<double> Losses) Train(string run, TrainOptions options, TrainingServices services)
        {
            RecurrentTestModel? model = null;
            var gradients = new List<double[][]>();
            double[][] weights = [];
            var trainer = new Trainer(options, services with { CreateModel = o => { var m = (RecurrentTestModel)services.CreateModel(o); model = m; return m; } }, new PlainProgress(TextWriter.Null))
            {
                GradientsReady = (_, parameters) => gradients.Add(Gradients(parameters)),
                StepCompleted = step => { if (step == options.MaxSteps) weights = Copy(model!.parameters()); },
            };
            Assert.Equal(TrainingStopReason.Completed, trainer.Run().Reason);
            return (gradients, weights, Losses(run));
        }

        // Accumulated: micro-batches of 4 from the stream. Single: the same two micro-batches as one batch of 8.
        var accumulated = Train(temp.File("accumulated"), Options(temp.File("accumulated"), 4, 2), TestTraining.Services());
        TrainingServices paired = TestTraining.Services() with
        {
            OpenBatches = (options, state) => new PairedBatches(MemoryBatches.Open(TestTraining.Corpus, options with { BatchSize = 4 }, state)),
        };
        var single = Train(temp.File("single"), Options(temp.File("single"), 8, 1), paired);

        Assert.Equal(3, accumulated.Gradients.Count);
        for (int step = 0; step < 3; step++) AssertClose(single.Gradients[step], accumulated.Gradients[step], 1e-5);
        Assert.Equal(3, accumulated.Losses.Count);
        for (int step = 0; step < 3; step++) Assert.Equal(single.Losses[step], accumulated.Losses[step], 5);
        AssertClose(single.Weights, accumulated.Weights, 1e-5);
        Assert.True(Norm(accumulated.Gradients[0]) > 1e-3);
    }

    [Fact]
    public void Clipping_scales_the_gradient_to_exactly_the_option_value_and_leaves_a_smaller_one_alone()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        double[][] FirstGradients(string run, double clip)
        {
            double[][] first = [];
            var trainer = new Trainer(TestTraining.Options(run) with { GradClip = clip, MaxSteps = 1, EvalEvery = 0 }, TestTraining.Services(), new PlainProgress(TextWriter.Null))
            {
                GradientsReady = (step, parameters) => { if (step == 1) first = Gradients(parameters); },
            };
            trainer.Run();
            return first;
        }

        double[][] raw = FirstGradients(temp.File("raw"), clip: 0);
        double norm = Norm(raw);
        Assert.True(norm > 0.01, $"the unclipped gradient norm {norm} is too small for the test");

        // Clipped to a quarter of its norm: the same direction, norm exactly the option's value.
        double clip = norm / 4;
        double[][] clipped = FirstGradients(temp.File("clipped"), clip);
        Assert.Equal(clip, Norm(clipped), clip * 1e-5);
        AssertClose(raw.Select(g => g.Select(x => x * clip / norm).ToArray()).ToArray(), clipped, 1e-5);

        // A limit above the norm changes nothing.
        AssertClose(raw, FirstGradients(temp.File("loose"), norm * 2), 1e-6);
    }

    [Fact]
    public void The_non_finite_stop_leaves_the_weights_exactly_as_before_the_poisoned_step()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        RecurrentTestModel? model = null;
        double[][] beforeStep4 = [], afterStop = [], afterStep2 = [];
        double[][] poisonedGradients = [];
        // Forward 4 is the 4th step's (one micro-batch per step): steps 1-3 train, step 4 sees NaN.
        TrainingServices services = TestTraining.Services(m =>
        {
            model = m;
            m.PoisonAfterForwards = 4;
            m.Disposing = disposed => afterStop = Copy(disposed.parameters());   // the trainer disposes the model last
        });
        var trainer = new Trainer(TestTraining.Options(temp.File("run")) with { GradAccum = 1, EvalEvery = 0 }, services, new PlainProgress(TextWriter.Null))
        {
            StepCompleted = step => { if (step == 2) afterStep2 = Copy(model!.parameters()); },
            GradientsReady = (step, parameters) =>
            {
                if (step != 4) return;
                beforeStep4 = Copy(parameters);
                poisonedGradients = Gradients(parameters);
            },
        };
        TrainingOutcome outcome = trainer.Run();

        Assert.Equal(TrainingStopReason.NonFiniteLoss, outcome.Reason);
        Assert.Equal(3, outcome.Step);
        Assert.Contains(poisonedGradients, g => g.Any(x => !double.IsFinite(x)));      // the update would have poisoned them
        Assert.Equal(beforeStep4.Length, afterStop.Length);
        for (int i = 0; i < beforeStep4.Length; i++) Assert.Equal(beforeStep4[i], afterStop[i]);   // bit for bit
        Assert.True(afterStop.Zip(afterStep2).Any(p => !p.First.SequenceEqual(p.Second)), "step 3 did not change the weights");
    }
}

using System.Text.Json;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Bench;

namespace MambaByte.Tests.Bench;

public sealed class BenchCommandTests
{
    [Fact]
    public void Quick_bench_writes_every_section_with_positive_numbers_and_consistent_ratios()
    {
        using var dir = new TempDir();
        string jsonPath = Path.Combine(dir.Path, "bench.json");
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, Cli.Run(["bench", "--quick", "--json", jsonPath, "--threads", "1"], output, error));
        Assert.Equal("", error.ToString());
        Assert.False(File.Exists(jsonPath + ".tmp"));

        using var json = JsonDocument.Parse(File.ReadAllText(jsonPath));
        JsonElement root = json.RootElement;
        // Scan memory is the process's resident-set growth: on a busy test host other threads' frees can cancel it out,
        // so those two figures are only required to be present; every other number must be positive.
        AssertAllNumbersPositive(root, "$", ["LoadAverageAtStart", "Warmup"], ["RetainedForBackwardBytes", "PeakForwardBackwardBytes"]);

        BenchPlan plan = BenchPlan.Quick;
        JsonElement matmul = root.GetProperty("Matmul");
        Assert.Equal(plan.MatmulSize, matmul.GetProperty("Size").GetInt32());
        // GFLOP/s is 2n³ over the time: check it against the milliseconds reported beside it.
        double n = plan.MatmulSize, ms = matmul.GetProperty("Milliseconds").GetProperty("Median").GetDouble();
        Assert.Equal(2 * n * n * n / (ms * 1e-3) / 1e9, matmul.GetProperty("Gflops").GetProperty("Median").GetDouble(), 6);
        Assert.Equal(1, root.GetProperty("Machine").GetProperty("TorchThreads").GetInt32());

        JsonElement[] scans = root.GetProperty("Scans").EnumerateArray().ToArray();
        Assert.Equal(plan.ScanLengths.Length * 3, scans.Length);
        foreach (int length in plan.ScanLengths)
        {
            JsonElement[] atLength = scans.Where(s => s.GetProperty("Length").GetInt32() == length).ToArray();
            Assert.Equal(["Reference", "Parallel", "FusedCpu"], atLength.Select(s => s.GetProperty("Kind").GetString()));
            double referenceForward = atLength[0].GetProperty("ForwardMs").GetProperty("Median").GetDouble();
            foreach (JsonElement s in atLength)
                Assert.Equal(referenceForward / s.GetProperty("ForwardMs").GetProperty("Median").GetDouble(), s.GetProperty("ForwardSpeedupVsReference").GetDouble(), 9);
        }

        JsonElement[] models = root.GetProperty("Models").EnumerateArray().ToArray();
        Assert.Equal(["mamba", "transformer", "megabyte"], models.Select(m => m.GetProperty("Architecture").GetString()));
        foreach (JsonElement m in models) Assert.InRange(m.GetProperty("ParametersVsMamba").GetDouble(), 0.9, 1.1);

        JsonElement[] training = root.GetProperty("Training").EnumerateArray().ToArray();
        Assert.Equal(3 * plan.TrainingContexts.Length, training.Length);
        foreach (JsonElement t in training)
        {
            int context = t.GetProperty("Context").GetInt32();
            double stepMs = t.GetProperty("StepMs").GetProperty("Median").GetDouble();
            double bytesPerSecond = t.GetProperty("BytesPerSecond").GetProperty("Median").GetDouble();
            Assert.Equal(context / (stepMs * 1e-3), bytesPerSecond, 6);
            double matmulFlops = t.GetProperty("MatmulGflopsSameRounds").GetDouble() * 1e9;
            Assert.Equal(t.GetProperty("FlopsPerByte").GetDouble() * bytesPerSecond / matmulFlops, t.GetProperty("Mfu").GetDouble(), 9);
            if (t.GetProperty("Architecture").GetString() != "transformer") continue;
            // The Transformer's FLOPs/byte counted by hand from the plan's shape (README: 3·(L·(8d² + 6dh) + 4dL·(c+1)/2 + 2·256·d),
            // h = 8d/3 rounded up to a multiple of 8), so the MFU rests on a count the bench code did not make.
            double d = plan.Transformer.DModel, layers = plan.Transformer.NLayer, h = plan.Transformer.DMlp ?? Math.Ceiling(8 * d / 3 / 8) * 8;
            double byHand = 3 * (layers * (8 * d * d + 6 * d * h) + 4 * d * layers * (context + 1) / 2 + 2 * 256 * d);
            Assert.Equal(byHand, t.GetProperty("FlopsPerByte").GetDouble(), byHand * 1e-12);
            double mfu = byHand * bytesPerSecond / matmulFlops;
            Assert.Equal(mfu, t.GetProperty("Mfu").GetDouble(), mfu * 1e-9);
        }

        JsonElement[] generation = root.GetProperty("Generation").EnumerateArray().ToArray();
        Assert.Equal(3 * plan.GenerationPositions.Length, generation.Length);
        foreach (JsonElement g in generation)
            Assert.Equal(1000 / g.GetProperty("MsPerByte").GetProperty("Median").GetDouble(), g.GetProperty("BytesPerSecond").GetDouble(), 6);

        // Ten targets: four model targets and two per scan length, each verdict consistent with its figure.
        JsonElement[] targets = root.GetProperty("Targets").EnumerateArray().ToArray();
        Assert.Equal(4 + 2 * plan.ScanLengths.Length, targets.Length);
        foreach (JsonElement t in targets)
        {
            double measured = t.GetProperty("Measured").GetDouble(), threshold = t.GetProperty("Threshold").GetDouble();
            bool lowerIsBetter = t.GetProperty("Target").GetString()!.Contains("within", StringComparison.Ordinal);
            Assert.Equal(lowerIsBetter ? measured <= threshold : measured >= threshold, t.GetProperty("Pass").GetBoolean());
        }

        string text = output.ToString();
        foreach (string title in new[] { "fp32 matmul", "Selective scan", "Models", "Training", "Generation", "Targets" })
            Assert.Contains(title, text);
        Assert.Matches(@"targets: \d+ PASS, \d+ MISS", text);
    }

    [Fact]
    public void Bench_rejects_negative_threads_with_a_one_line_error()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(1, Cli.Run(["bench", "--quick", "--threads", "-1"], output, error));
        Assert.Contains("--threads", error.ToString());
    }

    static void AssertAllNumbersPositive(JsonElement element, string path, string[] mayBeZero, string[] anyNumber)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in element.EnumerateObject())
                {
                    if (anyNumber.Contains(p.Name)) Assert.Equal(JsonValueKind.Number, p.Value.ValueKind);
                    else if (mayBeZero.Contains(p.Name)) Assert.True(p.Value.GetDouble() >= 0, $"{path}.{p.Name} is negative");
                    else AssertAllNumbersPositive(p.Value, $"{path}.{p.Name}", mayBeZero, anyNumber);
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (JsonElement item in element.EnumerateArray()) AssertAllNumbersPositive(item, $"{path}[{i++}]", mayBeZero, anyNumber);
                break;
            case JsonValueKind.Number:
                Assert.True(element.GetDouble() > 0, $"{path} is {element.GetDouble()}, expected positive");
                break;
        }
    }
}

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
        }

        JsonElement[] generation = root.GetProperty("Generation").EnumerateArray().ToArray();
        Assert.Equal(3 * plan.GenerationPositions.Length, generation.Length);
        foreach (JsonElement g in generation)
            Assert.Equal(1000 / g.GetProperty("MsPerByte").GetProperty("Median").GetDouble(), g.GetProperty("BytesPerSecond").GetDouble(), 6);

        // Mamba decoding: per shape every batch (fused fp32), int8 and reference at batch 1; one prefill row.
        JsonElement[] decoding = root.GetProperty("Decoding").EnumerateArray().ToArray();
        Assert.Equal(plan.DecodingShapes.Length * (plan.DecodingBatches.Length + 2) + 1, decoding.Length);
        foreach (JsonElement d in decoding)
        {
            double perStep = d.GetProperty("Ms").GetProperty("Median").GetDouble();
            double units = d.GetProperty("Step").GetString() == "prefill" ? d.GetProperty("RoundBytes").GetInt32() : d.GetProperty("Batch").GetInt32();
            Assert.Equal(units * 1000 / perStep, d.GetProperty("BytesPerSecond").GetDouble(), 6);
        }

        // Fifteen targets: four model targets, two per scan length and five decoding targets, each verdict consistent with its figure.
        JsonElement[] targets = root.GetProperty("Targets").EnumerateArray().ToArray();
        Assert.Equal(4 + 2 * plan.ScanLengths.Length + 5, targets.Length);
        foreach (JsonElement t in targets)
        {
            double measured = t.GetProperty("Measured").GetDouble(), threshold = t.GetProperty("Threshold").GetDouble();
            bool lowerIsBetter = t.GetProperty("Target").GetString()!.Contains("within", StringComparison.Ordinal);
            Assert.Equal(lowerIsBetter ? measured <= threshold : measured >= threshold, t.GetProperty("Pass").GetBoolean());
        }

        string text = output.ToString();
        foreach (string title in new[] { "fp32 matmul", "Selective scan", "Models", "Training", "Generation", "Mamba decoding", "Targets" })
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

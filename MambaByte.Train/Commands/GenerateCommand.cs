using System.CommandLine;
using System.Text;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Train.Models;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Train.Commands;

/// <summary>
/// <c>mambabyte generate</c>: streams sampled bytes to stdout as UTF-8 text as they arrive (incomplete sequences
/// held back, invalid ones as U+FFFD), using the model's own inference state; bytes/s go to stderr at the end.
/// With several sequences (<c>--num-samples</c>, <c>--prompts-file</c>) they are stepped as one batch and printed
/// one after another when done.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var checkpoint = CommonOptions.Checkpoint("model directory or run directory (its best/)");
        var prompt = new Option<string?>("--prompt") { Description = "text to continue (UTF-8)" };
        var promptFile = new Option<string?>("--prompt-file") { Description = "file whose bytes are the prompt" };
        var promptsFile = new Option<string?>("--prompts-file") { Description = "file with one prompt per line (its bytes without the line break; empty lines skipped), all generated as one batch" };
        var numSamples = new Option<int>("--num-samples") { Description = "sequences per prompt, generated together as one batch; sequence i samples with seed + i", DefaultValueFactory = _ => 1 };
        var maxBytes = new Option<int>("--max-bytes") { Description = "bytes to generate", DefaultValueFactory = _ => 256 };
        var temperature = new Option<double>("--temperature") { Description = "softmax temperature; 0 = greedy (argmax)", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "sample among the K most likely bytes (0 = off)", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "nucleus: the smallest set of bytes with this much probability (1 = off)", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<ulong>("--seed") { Description = "sampling seed: same seed, same output", DefaultValueFactory = _ => 0UL };
        var weights = CommonOptions.Weights();
        var step = new Option<string>("--step") { Description = "Mamba's step: auto (fused on the CPU for float32/float64 RMSNorm models), fused, or reference (tensor ops)", DefaultValueFactory = _ => "auto" };
        var draftOption = new Option<string?>("--draft") { Description = "speculative decoding: a smaller Mamba checkpoint proposes bytes the model accepts by the Leviathan et al. rule (output distributed exactly as the model's own)" };
        var draftBytes = new Option<int>("--draft-bytes") { Description = "bytes the draft proposes per round (with --draft)", DefaultValueFactory = _ => 4 };
        var draftRestore = new Option<string>("--draft-restore") { Description = "after a rejected draft byte: snapshots (copy the state kept at the accepted position; needs the fused step) or rerun (run the accepted prefix again)", DefaultValueFactory = _ => "snapshots" };
        var device = CommonOptions.Device();
        var command = new Command("generate", "Generate text from a checkpoint, streamed as it is sampled")
        {
            checkpoint, prompt, promptFile, promptsFile, numSamples, maxBytes, temperature, topK, topP, seed, weights, step, draftOption, draftBytes, draftRestore, device,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter error = parse.InvocationConfiguration.Error;
            List<byte[]> prompts = ReadPrompts(parse.GetValue(prompt), parse.GetValue(promptFile), parse.GetValue(promptsFile));
            int samples = parse.GetValue(numSamples);
            if (samples < 1) throw new ArgumentException($"--num-samples {samples}: expected >= 1");
            var sampling = new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(seed));
            sampling.Validate();
            WeightFormat format = WeightsOption.Parse(parse.GetValue(weights)!);
            StepKind stepKind = ParseStep(parse.GetValue(step)!);
            TorchRuntime.EnsureLoaded();
            string modelDirectory = ModelLocator.ModelDirectory(parse.GetValue(checkpoint)!);
            using ByteLanguageModel model = ModelCheckpoint.Load(modelDirectory, DeviceOption.Parse(parse.GetValue(device)!));
            if (model is MambaLMHeadModel mamba) mamba.StepKind = stepKind;
            else if (stepKind != StepKind.Auto) throw new ArgumentException($"--step applies to Mamba models; this checkpoint is {model.Architecture}");
            WeightsOption.Apply(model, format);

            // Sequence k = prompt k / samples, sample k % samples.
            byte[][] sequences = [.. prompts.SelectMany(p => Enumerable.Repeat(p, samples))];
            int maxNew = parse.GetValue(maxBytes);
            IReadOnlyList<GenerationResult> results;
            string? draftPath = parse.GetValue(draftOption);
            if (draftPath is not null)
            {
                if (sequences.Length != 1) throw new ArgumentException("--draft generates one sequence: give one prompt and --num-samples 1");
                if (model is not MambaLMHeadModel targetModel) throw new ArgumentException($"--draft needs a Mamba model; this checkpoint is {model.Architecture}");
                using ByteLanguageModel draftLoaded = ModelCheckpoint.Load(ModelLocator.ModelDirectory(draftPath), DeviceOption.Parse(parse.GetValue(device)!));
                if (draftLoaded is not MambaLMHeadModel draftModel) throw new ArgumentException($"--draft {draftPath}: the draft must be a Mamba model; it is {draftLoaded.Architecture}");
                draftModel.StepKind = stepKind;
                WeightsOption.Apply(draftModel, format);
                var stream = new Utf8StreamWriter(output);
                stream.Write(sequences[0]);
                SpeculativeRestore restore = ParseRestore(parse.GetValue(draftRestore)!);
                var (result, decoder) = SpeculativeDecoder.Generate(targetModel, draftModel, parse.GetValue(draftBytes), sequences[0], maxNew, sampling, b =>
                {
                    stream.Write(b);
                    output.Flush();
                }, cancellationToken, restore);
                using (decoder)
                {
                    stream.Flush();
                    output.WriteLine();
                    error.WriteLine($"speculative: {decoder.Rounds:N0} rounds, draft proposed {decoder.Proposed:N0} bytes, accepted {decoder.Accepted:N0} ({(decoder.Proposed > 0 ? (double)decoder.Accepted / decoder.Proposed : 0):P1}), {parse.GetValue(draftBytes)} per round, restore by {decoder.Restore.ToString().ToLowerInvariant()}");
                }
                results = [result];
            }
            else if (sequences.Length == 1)
            {
                var stream = new Utf8StreamWriter(output);
                stream.Write(sequences[0]);
                results = [ByteGenerator.Generate(model, sequences[0], maxNew, sampling, b =>
                {
                    stream.Write(b);
                    output.Flush();
                }, cancellationToken)];
                stream.Flush();
                output.WriteLine();
            }
            else
            {
                results = ByteGenerator.GenerateBatch(model, sequences, maxNew, sampling, null, cancellationToken);
                for (int k = 0; k < sequences.Length; k++)
                {
                    output.WriteLine($"=== sequence {k + 1}/{sequences.Length}: prompt {k / samples + 1}, sample {k % samples + 1}, seed {unchecked(sampling.Seed + (ulong)k)} ===");
                    var stream = new Utf8StreamWriter(output);
                    stream.Write(sequences[k]);
                    stream.Write(results[k].Bytes);
                    stream.Flush();
                    output.WriteLine();
                }
            }
            long total = results.Sum(r => (long)r.Bytes.Length);
            TimeSpan elapsed = results[0].Elapsed;
            double rate = elapsed.TotalSeconds > 0 ? total / elapsed.TotalSeconds : 0;
            error.WriteLine($"generated {total:N0} bytes in {elapsed.TotalSeconds:F2} s ({rate:F1} bytes/s, {model.Architecture}{Describe(model, sequences.Length)})");
            return Task.FromResult(0);
        });
        return command;
    }

    static string Describe(ByteLanguageModel model, int sequences)
    {
        string batch = sequences > 1 ? $", {sequences} sequences" : "";
        if (model is not MambaLMHeadModel mamba) return batch;
        bool fused = mamba.StepKind != StepKind.Reference && FusedMambaDecoder.Unsupported(mamba) is null;
        return $"{batch}, {(fused ? "fused" : "reference")} step, {WeightsOption.Name(mamba.Weights)} weights";
    }

    static StepKind ParseStep(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => StepKind.Auto,
        "fused" => StepKind.Fused,
        "reference" => StepKind.Reference,
        _ => throw new ArgumentException($"--step {text}: expected auto, fused or reference"),
    };

    static SpeculativeRestore ParseRestore(string text) => text.Trim().ToLowerInvariant() switch
    {
        "snapshots" => SpeculativeRestore.Snapshots,
        "rerun" => SpeculativeRestore.Rerun,
        _ => throw new ArgumentException($"--draft-restore {text}: expected snapshots or rerun"),
    };

    static List<byte[]> ReadPrompts(string? prompt, string? promptFile, string? promptsFile)
    {
        int given = (prompt is not null ? 1 : 0) + (promptFile is not null ? 1 : 0) + (promptsFile is not null ? 1 : 0);
        if (given > 1) throw new ArgumentException("--prompt, --prompt-file and --prompts-file: give one");
        if (promptFile is not null)
        {
            if (!File.Exists(promptFile)) throw new FileNotFoundException($"--prompt-file {promptFile}: no such file", promptFile);
            return [File.ReadAllBytes(promptFile)];
        }
        if (promptsFile is not null)
        {
            if (!File.Exists(promptsFile)) throw new FileNotFoundException($"--prompts-file {promptsFile}: no such file", promptsFile);
            List<byte[]> lines = SplitLines(File.ReadAllBytes(promptsFile));
            if (lines.Count == 0) throw new ArgumentException($"--prompts-file {promptsFile}: no non-empty line (one prompt per line)");
            return lines;
        }
        if (string.IsNullOrEmpty(prompt)) throw new ArgumentException("no prompt: give --prompt TEXT, --prompt-file F or --prompts-file F (generation conditions on at least one byte)");
        return [Encoding.UTF8.GetBytes(prompt)];
    }

    /// <summary>Lines split at '\n' (a '\r' before it dropped too), bytes kept as they are; empty lines skipped.</summary>
    static List<byte[]> SplitLines(byte[] bytes)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i <= bytes.Length; i++)
        {
            if (i < bytes.Length && bytes[i] != (byte)'\n') continue;
            int end = i > start && bytes[i - 1] == (byte)'\r' ? i - 1 : i;
            if (end > start) lines.Add(bytes[start..end]);
            start = i + 1;
        }
        return lines;
    }
}

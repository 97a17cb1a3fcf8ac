using System.CommandLine;
using System.Text;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Train.Models;

namespace MambaByte.Train.Commands;

/// <summary>
/// <c>mambabyte generate</c>: streams sampled bytes to stdout as UTF-8 text as they arrive (incomplete sequences
/// held back, invalid ones as U+FFFD), using the model's own inference state; bytes/s go to stderr at the end.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "model directory or run directory (its best/)", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "text to continue (UTF-8)" };
        var promptFile = new Option<string?>("--prompt-file") { Description = "file whose bytes are the prompt" };
        var maxBytes = new Option<int>("--max-bytes") { Description = "bytes to generate", DefaultValueFactory = _ => 256 };
        var temperature = new Option<double>("--temperature") { Description = "softmax temperature; 0 = greedy (argmax)", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "sample among the K most likely bytes (0 = off)", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "nucleus: the smallest set of bytes with this much probability (1 = off)", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<ulong>("--seed") { Description = "sampling seed: same seed, same output", DefaultValueFactory = _ => 0UL };
        var device = new Option<string>("--device") { Description = DeviceOption.Help, DefaultValueFactory = _ => "auto" };
        var command = new Command("generate", "Generate text from a checkpoint, streamed as it is sampled")
        {
            checkpoint, prompt, promptFile, maxBytes, temperature, topK, topP, seed, device,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter error = parse.InvocationConfiguration.Error;
            byte[] promptBytes = ReadPrompt(parse.GetValue(prompt), parse.GetValue(promptFile));
            var sampling = new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(seed));
            sampling.Validate();
            TorchRuntime.EnsureLoaded();
            string modelDirectory = ModelLocator.ModelDirectory(parse.GetValue(checkpoint)!);
            using ByteLanguageModel model = ModelCheckpoint.Load(modelDirectory, DeviceOption.Parse(parse.GetValue(device)!));

            var stream = new Utf8StreamWriter(output);
            stream.Write(promptBytes);
            GenerationResult result = ByteGenerator.Generate(model, promptBytes, parse.GetValue(maxBytes), sampling, b =>
            {
                stream.Write(b);
                output.Flush();
            }, cancellationToken);
            stream.Flush();
            output.WriteLine();
            error.WriteLine($"generated {result.Bytes.Length:N0} bytes in {result.Elapsed.TotalSeconds:F2} s ({result.BytesPerSecond:F1} bytes/s, {model.Architecture})");
            return Task.FromResult(0);
        });
        return command;
    }

    static byte[] ReadPrompt(string? prompt, string? promptFile)
    {
        if (prompt is not null && promptFile is not null) throw new ArgumentException("--prompt and --prompt-file: give one");
        if (promptFile is not null)
        {
            if (!File.Exists(promptFile)) throw new FileNotFoundException($"--prompt-file {promptFile}: no such file", promptFile);
            return File.ReadAllBytes(promptFile);
        }
        if (string.IsNullOrEmpty(prompt)) throw new ArgumentException("no prompt: give --prompt TEXT or --prompt-file F (generation conditions on at least one byte)");
        return Encoding.UTF8.GetBytes(prompt);
    }
}

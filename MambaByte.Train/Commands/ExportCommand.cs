using System.CommandLine;
using MambaByte.Core.Export;
using MambaByte.Core.Native;
using MambaByte.Train.Models;

namespace MambaByte.Train.Commands;

/// <summary>
/// <c>mambabyte export --format gguf</c>: writes a Mamba checkpoint as a GGUF file that llama.cpp loads as its
/// <c>mamba</c> architecture (see <see cref="GgufMambaExporter"/> for names, layouts and the byte vocabulary).
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = CommonOptions.Checkpoint();
        var format = new Option<string>("--format") { Description = "output format: gguf (llama.cpp)", DefaultValueFactory = _ => "gguf" };
        var output = new Option<string>("--out") { Description = "the file to write, e.g. model.gguf (written to a temporary name, then renamed)", Required = true };
        var type = new Option<string>("--type") { Description = "f32 (exact), f16 or q8_0 for the weight matrices; norms, biases, A and the conv kernel stay f32", DefaultValueFactory = _ => "f32" };
        var command = new Command("export", "Export a Mamba checkpoint for llama.cpp (GGUF)") { checkpoint, format, output, type };
        command.SetAction(parse =>
        {
            TextWriter stdout = parse.InvocationConfiguration.Output;
            string formatName = parse.GetValue(format)!;
            if (!string.Equals(formatName, "gguf", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--format {formatName}: the only export format is gguf");
            GgufFileType fileType = GgufMambaExporter.ParseType(parse.GetValue(type)!);
            string outPath = parse.GetValue(output)!;
            TorchRuntime.EnsureLoaded();
            string modelDirectory = ModelLocator.ModelDirectory(parse.GetValue(checkpoint)!);
            GgufExportResult result = GgufMambaExporter.Export(modelDirectory, outPath, fileType);

            string types = string.Join(", ", result.TensorTypes.OrderBy(p => p.Key).Select(p => $"{p.Value} {p.Key}"));
            stdout.WriteLine($"wrote {outPath}: GGUF v{GgufWriter.Version}, llama.cpp architecture mamba, {result.Config.NLayer} layers, d_model {result.Config.DModel}, " +
                $"{GgufMambaExporter.TypeName(fileType)}; {result.TensorCount} tensors ({types}); {result.Bytes:N0} bytes");
            return 0;
        });
        return command;
    }
}

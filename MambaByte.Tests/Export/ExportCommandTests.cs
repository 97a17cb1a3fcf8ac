using MambaByte.Core.Checkpoints;
using MambaByte.Core.Export;
using MambaByte.Core.Models;
using MambaByte.Tests.Baselines;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Export;

/// <summary><c>mambabyte export</c> through the command line: a good export, and bad input getting one line, exit 1 and no file.</summary>
public sealed class ExportCommandTests
{
    static (int Exit, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Cli.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    static void AssertOneLineError(int exit, string error, params string[] mentions)
    {
        Assert.Equal(1, exit);
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("mambabyte: error: ", lines[0]);
        foreach (string m in mentions) Assert.Contains(m, lines[0]);
    }

    [Fact]
    public void Export_writes_a_gguf_that_reads_back_with_the_requested_type()
    {
        using var temp = new TempDir();
        var (dir, model) = GgufMambaExportTests.SaveTiny(temp, dModel: 32, nLayer: 1);
        model.Dispose();
        string path = temp.File("out.gguf");
        var (exit, output, error) = Run("export", "--checkpoint", dir, "--format", "gguf", "--out", path, "--type", "q8_0");
        Assert.True(exit == 0, error);
        Assert.Contains($"wrote {path}", output);
        GgufFile file = GgufReader.Read(path);
        Assert.Equal("mamba", file["general.architecture"].Value);
        Assert.Equal((uint)GgufFileType.MostlyQ8_0, file["general.file_type"].Value);
        Assert.Equal(GgmlType.Q8_0, file.Tensor("blk.0.ssm_in.weight").Type);
        Assert.Equal(["out.gguf"], Directory.GetFiles(temp.Path).Select(Path.GetFileName));   // no temporary left beside it
    }

    [Fact]
    public void A_megabyte_checkpoint_is_refused_with_one_line_and_no_file()
    {
        using var temp = new TempDir();
        string dir = temp.File("megabyte");
        using (var megabyte = BaselineFixtures.TinyMegaByte()) ModelCheckpoint.Save(megabyte, dir);
        string path = temp.File("out.gguf");
        var (exit, _, error) = Run("export", "--checkpoint", dir, "--out", path);
        AssertOneLineError(exit, error, "config.json", "megabyte", "only Mamba");
        Assert.Empty(Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void An_unwritable_or_missing_output_and_a_missing_checkpoint_get_one_line_and_no_file()
    {
        using var temp = new TempDir();
        var (dir, model) = GgufMambaExportTests.SaveTiny(temp, nLayer: 1);
        model.Dispose();

        // The parent of --out is a regular file: nothing can be created there, whoever runs the test.
        string blocker = temp.File("not-a-dir");
        File.WriteAllText(blocker, "x");
        var (exit, _, error) = Run("export", "--checkpoint", dir, "--out", Path.Combine(blocker, "m.gguf"));
        AssertOneLineError(exit, error, Path.Combine(blocker, "m.gguf"), "is a file, not a directory");

        // --out is a directory.
        (exit, _, error) = Run("export", "--checkpoint", dir, "--out", dir);
        AssertOneLineError(exit, error, dir, "is a directory");

        // The parent directory does not exist.
        string missingParent = Path.Combine(temp.Path, "no", "such", "m.gguf");
        (exit, _, error) = Run("export", "--checkpoint", dir, "--out", missingParent);
        AssertOneLineError(exit, error, missingParent, "does not exist");

        (exit, _, error) = Run("export", "--checkpoint", temp.File("nothing-here"), "--out", temp.File("m.gguf"));
        AssertOneLineError(exit, error, "nothing-here");

        (exit, _, error) = Run("export", "--checkpoint", dir, "--out", temp.File("m.gguf"), "--type", "q4_0");
        AssertOneLineError(exit, error, "--type q4_0");

        (exit, _, error) = Run("export", "--checkpoint", dir, "--out", temp.File("m.onnx"), "--format", "onnx");
        AssertOneLineError(exit, error, "--format onnx");

        Assert.Equal(["not-a-dir"], Directory.GetFiles(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_mamba_llama_cpp_cannot_run_is_refused_with_one_line()
    {
        using var temp = new TempDir();
        SingleThreadedTorch.Ensure();
        string dir = temp.File("expand3");
        using (var model = new MambaLMHeadModel(new MambaConfig { DModel = 16, NLayer = 1, DState = 4, Expand = 3 })) ModelCheckpoint.Save(model, dir);
        var (exit, _, error) = Run("export", "--checkpoint", dir, "--out", temp.File("m.gguf"));
        AssertOneLineError(exit, error, "'ssm_cfg.expand' is 3");
        Assert.False(File.Exists(temp.File("m.gguf")));
    }

    [Fact]
    public void A_checkpoint_with_non_finite_weights_is_refused_with_one_line_and_no_file()
    {
        using var temp = new TempDir();
        SingleThreadedTorch.Ensure();
        string dir = temp.File("nan");
        using (var model = new MambaLMHeadModel(new MambaConfig { DModel = 16, NLayer = 1, DState = 4 }))
        {
            using (TorchSharp.torch.no_grad()) model.state_dict()["backbone.layers.0.mixer.D"][3] = float.NaN;
            ModelCheckpoint.Save(model, dir);
        }
        var (exit, _, error) = Run("export", "--checkpoint", dir, "--out", temp.File("m.gguf"));
        AssertOneLineError(exit, error, "model.safetensors", "backbone.layers.0.mixer.D", "non-finite");
        Assert.False(File.Exists(temp.File("m.gguf")));
    }

    [Fact]
    public void Eval_and_generate_refuse_a_gguf_file_with_one_line()
    {
        using var temp = new TempDir();
        var (dir, model) = GgufMambaExportTests.SaveTiny(temp, nLayer: 1);
        model.Dispose();
        string path = temp.File("m.gguf");
        Assert.Equal(0, Run("export", "--checkpoint", dir, "--out", path).Exit);
        File.WriteAllText(temp.File("text.txt"), "In the beginning God created the heaven and the earth.");

        var (exit, _, error) = Run("eval", "--checkpoint", path, "--data", temp.File("text.txt"), "--device", "cpu");
        AssertOneLineError(exit, error, path, "a GGUF file");
        (exit, _, error) = Run("generate", "--checkpoint", path, "--prompt", "In", "--device", "cpu");
        AssertOneLineError(exit, error, path, "a GGUF file");
        (exit, _, error) = Run("export", "--checkpoint", path, "--out", temp.File("again.gguf"));
        AssertOneLineError(exit, error, path, "a GGUF file");
    }
}

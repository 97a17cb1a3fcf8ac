using System.Text.RegularExpressions;

namespace MambaByte.Tests.Architectures;

/// <summary>
/// The folder layering of MambaByte.Core and MambaByte.Train, read from the sources: a file's <c>using</c>s name only
/// its own folder or lower layers, and an architecture's folder names no other architecture's.
/// </summary>
public sealed partial class FolderLayeringTests
{
    /// <summary>Core from the bottom: file and device plumbing, scans, the model contract, shared blocks, one folder per architecture, the registry, checkpoints, then the architecture-neutral tools.</summary>
    static readonly string[][] CoreLayers =
    [
        ["Files", "Native", "Diagnostics", "Distributed"],
        ["Ops"],
        ["Models"],
        ["Modules"],
        ["Architectures.*"],
        ["Architectures"],
        ["Checkpoints"],
        ["Evaluation", "Generation", "Export"],
    ];

    /// <summary>Train from the bottom: run directories, checkpoint lookup, the trainer and evaluation reports, compare and bench, the commands, the CLI root.</summary>
    static readonly string[][] TrainLayers =
    [
        ["Runs"],
        ["Models"],
        ["Training"],
        ["Evaluation"],
        ["Compare", "Bench"],
        ["Commands"],
        [""],
    ];

    [Theory]
    [InlineData("MambaByte.Core")]
    [InlineData("MambaByte.Train")]
    public void No_folder_imports_one_above_it_and_no_architecture_imports_another(string project)
    {
        string[][] layers = project == "MambaByte.Core" ? CoreLayers : TrainLayers;
        string root = Path.Combine(RepositoryRoot(), project);
        var problems = new List<string>();
        int files = 0;
        foreach (string file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, file);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin", StringComparison.Ordinal)) continue;
            string text = File.ReadAllText(file);
            string? ns = Namespace().Match(text) is { Success: true } m ? m.Groups[1].Value : null;
            if (ns is null || !ns.StartsWith(project, StringComparison.Ordinal)) continue;
            files++;
            string folder = Folder(ns[project.Length..].TrimStart('.'));
            int layer = LayerOf(layers, folder, relative);
            foreach (Match u in Using().Matches(text))
            {
                string target = u.Groups[1].Value;
                if (!target.StartsWith(project + ".", StringComparison.Ordinal) && target != project) continue;
                string used = Folder(target[project.Length..].TrimStart('.'));
                if (used == folder) continue;
                int usedLayer = LayerOf(layers, used, relative);
                if (usedLayer >= layer) problems.Add($"{relative} ({folder}) imports {target} ({used}), which is not below it");
            }
        }
        Assert.True(files > 20, $"only {files} files found under {root}");
        Assert.Empty(problems);
    }

    /// <summary>The folder a namespace stands for: its first segment, except one folder per architecture.</summary>
    static string Folder(string rest)
    {
        string[] parts = rest.Split('.', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return "";
        return parts[0] == "Architectures" && parts.Length > 1 ? "Architectures." + parts[1] : parts[0];
    }

    static int LayerOf(string[][] layers, string folder, string file)
    {
        string key = folder.StartsWith("Architectures.", StringComparison.Ordinal) ? "Architectures.*" : folder;
        int layer = Array.FindIndex(layers, l => l.Contains(key));
        Assert.True(layer >= 0, $"{file}: folder '{folder}' has no layer in this test; place it");
        return layer;
    }

    static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "MambaByte.sln"))) directory = Path.GetDirectoryName(directory);
        Assert.NotNull(directory);
        return directory;
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex Namespace();

    [GeneratedRegex(@"^using\s+(?:static\s+)?([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex Using();
}

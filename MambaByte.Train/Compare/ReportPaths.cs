namespace MambaByte.Train.Compare;

/// <summary>
/// Paths as a comparison report writes them: relative to the report's own directory with '/' separators, so a report
/// (docs/compare, say) names no folder of the machine it ran on and still leads to its runs when moved with them.
/// </summary>
public static class ReportPaths
{
    /// <summary>Options of <c>mambabyte compare</c> whose values are file-system paths (a <c>--data</c> value may instead be a dataset name).</summary>
    static readonly string[] PathOptions = ["--out", "--data", "--cache-dir"];

    public static string Relative(string reportDirectory, string path) =>
        Path.GetRelativePath(Path.GetFullPath(reportDirectory), Path.GetFullPath(path)).Replace(Path.DirectorySeparatorChar, '/');

    /// <summary>A <c>--data</c> value: a store or dataset folder (or file) becomes relative; a shipped dataset's name stays.</summary>
    public static string Data(string reportDirectory, string data) =>
        Directory.Exists(data) || File.Exists(data) ? Relative(reportDirectory, data) : data;

    /// <summary>
    /// The command's words with the values of <c>--out</c>, <c>--cache-dir</c> and a path <c>--data</c> made relative to
    /// the report's directory: run from that directory, the command does what the original did.
    /// </summary>
    public static IReadOnlyList<string> CommandWords(IReadOnlyList<string> words, string reportDirectory)
    {
        var result = new List<string>(words.Count);
        for (int i = 0; i < words.Count; i++)
        {
            string word = words[i];
            int equals = word.IndexOf('=');
            string name = equals > 0 ? word[..equals] : word;
            if (!PathOptions.Contains(name)) result.Add(word);
            else if (equals > 0) result.Add($"{name}={PathValue(name, word[(equals + 1)..], reportDirectory)}");
            else
            {
                result.Add(word);
                if (i + 1 < words.Count) result.Add(PathValue(name, words[++i], reportDirectory));
            }
        }
        return result;
    }

    static string PathValue(string option, string value, string reportDirectory) =>
        option == "--data" ? Data(reportDirectory, value) : Relative(reportDirectory, value);
}

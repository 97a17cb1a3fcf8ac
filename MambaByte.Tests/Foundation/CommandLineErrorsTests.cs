using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.Foundation;

public sealed class CommandLineErrorsTests
{
    static (int Code, string[] Lines) Report(Action action, bool verbose = false)
    {
        var error = new StringWriter();
        int code = CommandLineErrors.Run(error, () => { action(); return 0; }, verbose);
        return (code, error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Exceptions_from_inside_libraries_read_as_bugs_naming_where_they_came_from_and_how_to_see_the_stack()
    {
        // Before: "mambabyte: error: Sequence contains no elements", exit 1, as if the input were bad.
        (int code, string[] lines) = Report(() => new List<int>().First());
        Assert.Equal(CommandLineErrors.BugExitCode, code);
        Assert.Equal(3, lines.Length);
        Assert.Equal("mambabyte: internal error (a bug in mambabyte, not a problem with the input): System.InvalidOperationException: Sequence contains no elements", lines[0]);
        Assert.StartsWith("mambabyte: thrown at System.Linq.", lines[1]);
        Assert.Contains($", called from {typeof(CommandLineErrorsTests).FullName}.", lines[1]);
        Assert.Contains("CommandLineErrorsTests.cs:", lines[1]);
        Assert.Equal("mambabyte: run again with --verbose (or MAMBABYTE_DEBUG=1) to print the stack trace, and please report it", lines[2]);

        // A duplicate key is an ArgumentException, but raised by the dictionary, not by a check on the input.
        (code, lines) = Report(() => new Dictionary<int, int> { [1] = 1 }.Add(1, 2));
        Assert.Equal(CommandLineErrors.BugExitCode, code);
        Assert.StartsWith("mambabyte: internal error (a bug in mambabyte, not a problem with the input): System.ArgumentException: ", lines[0]);

        (code, lines) = Report(() => throw new NotSupportedException("no such path"), verbose: true);
        Assert.Equal(CommandLineErrors.BugExitCode, code);
        Assert.Contains(lines, l => l.TrimStart().StartsWith($"at {typeof(CommandLineErrorsTests).FullName}.", StringComparison.Ordinal));
    }

    [Fact]
    public void Errors_raised_on_purpose_for_bad_input_stay_one_line_user_errors()
    {
        (int code, string[] lines) = Report(() => throw new UserInputException("run.json: 'lr' must be positive"));
        Assert.Equal(1, code);
        Assert.Equal(["mambabyte: error: run.json: 'lr' must be positive"], lines);

        // mambabyte's own argument check (in MambaByte.Core) and the file system's report of a missing file.
        (code, lines) = Report(() => TransformerConfig.Preset("huge"));
        Assert.Equal(1, code);
        Assert.StartsWith("mambabyte: error: unknown Transformer preset", Assert.Single(lines));
        using var temp = new TempDir();
        (code, lines) = Report(() => File.ReadAllText(temp.File("missing.json")));
        Assert.Equal(1, code);
        Assert.Equal($"mambabyte: error: Could not find file '{temp.File("missing.json")}'.", Assert.Single(lines));
    }

    [Fact]
    public void Verbose_is_accepted_by_every_command_and_adds_the_stack_trace_to_an_error()
    {
        using var temp = new TempDir();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(["eval", "--checkpoint", temp.File("nothing"), "--data", "kjv", "--device", "cpu"], output, error);
        Assert.Equal(1, code);
        string[] plain = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("mambabyte: error: ", Assert.Single(plain));

        error = new StringWriter();
        code = Cli.Run(["eval", "--checkpoint", temp.File("nothing"), "--data", "kjv", "--device", "cpu", "--verbose"], output, error);
        Assert.Equal(1, code);
        string[] verbose = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(plain[0], verbose[0]);
        Assert.Contains(verbose, l => l.TrimStart().StartsWith("at MambaByte.", StringComparison.Ordinal));
    }
}

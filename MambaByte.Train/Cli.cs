using System.CommandLine;
using MambaByte.Core.Architectures;
using MambaByte.Train.Commands;

namespace MambaByte.Train;

/// <summary>The <c>mambabyte</c> command tree. Tests call <see cref="Run"/> in-process with their own writers.</summary>
public static class Cli
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand($"MambaByte: token-free byte-level language models ({string.Join(", ", ArchitectureRegistry.Names)})")
        {
            // On an error, the whole stack trace too (as MAMBABYTE_DEBUG=1 gives); CommandLineErrors reads it.
            new Option<bool>(CommandLineErrors.VerboseOption) { Description = "on an error, print the stack trace (also MAMBABYTE_DEBUG=1)", Recursive = true },
        };
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(PrepareCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        return root;
    }

    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var config = new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false,
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
        };
        ParseResult parsed = BuildRoot().Parse(args);
        return CommandLineErrors.Run(config.Error, () => parsed.Invoke(config), verbose: parsed.GetValue<bool>(CommandLineErrors.VerboseOption));
    }
}

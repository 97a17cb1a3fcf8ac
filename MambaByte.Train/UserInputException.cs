namespace MambaByte.Train;

/// <summary>
/// Bad input reported on purpose (an option, a file, a run that cannot go on as asked): the command line prints its
/// message as one line <c>mambabyte: error: …</c> and exits 1. Use it, not a general-purpose exception type, where
/// the code refuses input; an exception of another kind reaching the command line is reported as a bug.
/// </summary>
public sealed class UserInputException(string message, Exception? inner = null) : Exception(message, inner);

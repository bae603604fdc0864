using System.CommandLine;

namespace HamiltonianFlows.Samples;

/// <summary>
/// The samples' --quick sets a budget of its own (seconds, for smoke tests), so a budget option given beside it would be
/// silently ignored: it is refused instead, naming the option. Linked into each sample that has --quick.
/// </summary>
internal static class QuickBudget
{
    /// <exception cref="ArgumentException"><paramref name="quick"/> is set and one of <paramref name="budget"/> was given.</exception>
    public static void RefuseBesideQuick(ParseResult parse, bool quick, params Option[] budget)
    {
        if (quick && budget.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } given)
            throw new ArgumentException($"--quick sets its own budget; {given.Name} would be ignored beside it.");
    }
}

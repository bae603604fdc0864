using System.Reflection;
using System.Reflection.Emit;
using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// TorchSharp 0.107 turns numbers into <see cref="Scalar"/> objects implicitly and leaves them to the garbage collector,
/// which can finalise one while the native call that reads it is still running (the call then dies with "Expected false
/// to be true ... Scalar.h"; it made about one suite run in three fail). The library therefore never creates such a
/// temporary Scalar, neither in its own code nor through a TorchSharp member that does so inside. This test reads the
/// IL of both assemblies, so a new <c>x * 0.5</c> or <c>a + b</c> on tensors fails here, not once in a while in CI.
/// </summary>
public class TemporaryScalarTests
{
    [Fact]
    public void LibraryCallsNothingThatMakesATemporaryScalar() => AssertNoTemporaryScalars(typeof(HamiltonianFlow).Assembly);

    // The tests run the same native calls: a temporary Scalar here crashes the test host as it would a user's process
    // (a CI run crashed once in a test that built linspace's bounds from doubles).
    [Fact]
    public void TestsCallNothingThatMakesATemporaryScalar() => AssertNoTemporaryScalars(typeof(TemporaryScalarTests).Assembly);

    private static void AssertNoTemporaryScalars(Assembly assembly)
    {
        var (unsafeMembers, overridden) = UnsafeTorchSharpMembers.Value;
        var offenders = new List<string>();
        foreach (MethodBase method in Methods(assembly))
        {
            // A Scalar stored in a static field lives as long as the process: made once, never finalised.
            if (method is ConstructorInfo { IsStatic: true })
                continue;
            foreach (MethodBase callee in Callees(method))
                if (IsImplicitScalar(callee) || unsafeMembers.Contains(Definition(callee)) || overridden.Contains(Definition(callee)))
                    offenders.Add($"{method.DeclaringType!.FullName}.{method.Name} calls {callee.DeclaringType!.Name}.{callee}");
        }

        Assert.True(offenders.Count == 0, "Temporary Scalars:\n" + string.Join("\n", offenders.Distinct().Order()));
    }

    // TorchSharp members that make a temporary Scalar, directly or through other TorchSharp members; and the base members
    // of virtual ones whose override does (a virtual call, optimizer.step(), names the base member).
    private static readonly Lazy<(HashSet<MethodBase> Unsafe, HashSet<MethodBase> Overridden)> UnsafeTorchSharpMembers = new(() =>
    {
        Assembly torchSharp = typeof(torch).Assembly;
        var calls = new Dictionary<MethodBase, List<MethodBase>>();
        var unsafeMembers = new HashSet<MethodBase>();
        foreach (MethodBase method in Methods(torchSharp))
        {
            List<MethodBase> callees = Callees(method).Where(c => c.Module.Assembly == torchSharp).ToList();
            calls[method] = callees;
            if (callees.Any(IsImplicitScalar))
                unsafeMembers.Add(method);
        }
        bool grew = true;
        while (grew)
        {
            grew = false;
            foreach (var (method, callees) in calls)
                if (!unsafeMembers.Contains(method) && callees.Any(c => unsafeMembers.Contains(Definition(c))))
                    grew = unsafeMembers.Add(method);
        }

        // Module.forward is left out: the modules called are the library's own (whose IL is read) and Linear.
        var overridden = new HashSet<MethodBase>(unsafeMembers.OfType<MethodInfo>()
            .Where(m => m.IsVirtual && m.GetBaseDefinition() != m && !typeof(torch.nn.Module).IsAssignableFrom(m.DeclaringType))
            .Select(m => (MethodBase)m.GetBaseDefinition()));
        Assert.DoesNotContain(typeof(TorchSharp.Modules.Linear).GetMethod("forward")!, unsafeMembers);
        return (unsafeMembers, overridden);
    });

    [Fact]
    public void TheCheckFindsTheTemporaryScalarOfATensorSum()
    {
        // The check's own test: TorchSharp's a + b is a.add(b, alpha: 1), whose 1 becomes a temporary Scalar.
        MethodBase sum = typeof(torch.Tensor).GetMethod("op_Addition", new[] { typeof(torch.Tensor), typeof(torch.Tensor) })!;
        MethodBase add = typeof(torch.Tensor).GetMethod("add", new[] { typeof(torch.Tensor) })!;
        Assert.Contains(add, Callees(sum));
        Assert.Contains(Callees(add), IsImplicitScalar);
    }

    private static bool IsImplicitScalar(MethodBase method) =>
        method.Name == "op_Implicit" && method is MethodInfo { ReturnType: var r } && r == typeof(Scalar);

    private static MethodBase Definition(MethodBase method) =>
        method is MethodInfo { IsGenericMethod: true } generic ? generic.GetGenericMethodDefinition() : method;

    private static IEnumerable<MethodBase> Methods(Assembly assembly)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.OfType<Type>().ToArray(); }
        foreach (Type type in types)
        {
            foreach (MethodInfo method in type.GetMethods(all))
                yield return method;
            foreach (ConstructorInfo constructor in type.GetConstructors(all))
                yield return constructor;
        }
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private static List<MethodBase> Callees(MethodBase method)
    {
        var callees = new List<MethodBase>();
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException) { il = null; }
        if (il is null)
            return callees;
        Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        Type[]? methodArguments = method is MethodInfo { IsGenericMethod: true } m ? m.GetGenericArguments() : null;
        int i = 0;
        while (i < il.Length)
        {
            OpCode op = il[i] == 0xFE ? OpCodesByValue[(short)(0xFE00 | il[i + 1])] : OpCodesByValue[il[i]];
            i += op.Size;
            if (op.OperandType == OperandType.InlineMethod)
            {
                int token = BitConverter.ToInt32(il, i);
                try
                {
                    if (method.Module.ResolveMethod(token, typeArguments, methodArguments) is MethodBase callee)
                        callees.Add(callee);
                }
                catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException or FileNotFoundException)
                {
                    // A member of an assembly the tests do not load: not TorchSharp's.
                }
            }
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
        return callees;
    }
}

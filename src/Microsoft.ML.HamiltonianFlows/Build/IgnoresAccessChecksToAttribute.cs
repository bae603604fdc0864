using System.Runtime.CompilerServices;

// ML.NET grants its extension points (ModelSaveContext/ModelLoadContext members, VersionInfo,
// LoadableClassAttribute, ModelParametersBase<T>, ...) only to Microsoft-signed assemblies. This assembly
// is compiled against publicized copies of these two assemblies (build/MLNetInternals.targets); at run
// time CoreCLR skips the access checks for calls into them because of these attributes.
[assembly: IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices;

/// <summary>
/// Tells CoreCLR not to check accessibility when this assembly uses non-public members of the named assembly.
/// </summary>
/// <remarks>
/// The runtime recognizes the attribute by its full name but the base class library does not define it, so
/// each assembly that uses it declares its own copy. CoreCLR only: .NET Framework ignores it.
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute : Attribute
{
    public IgnoresAccessChecksToAttribute(string assemblyName) => AssemblyName = assemblyName;

    /// <summary>The simple name of the assembly whose non-public members this assembly may use.</summary>
    public string AssemblyName { get; }
}

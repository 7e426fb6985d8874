import VMP3Core
import VMP3Sandbox

/// The converter a service runs, as its settings choose: `SandboxedConverter` (the default) or
/// the in-process ``MediaConverter`` (`Setting.converterSandbox` `none`).
public enum ConverterChoice {
    /// - Throws: `ConfigurationError` for a setting out of its form, or when the sandbox is
    ///   chosen and its child program is not beside this one: a service that cannot convert
    ///   safely does not start.
    public static func make(settings: Settings, limits: ConversionLimits) throws(ConfigurationError) -> any AudioConverter {
        let conversion = ConversionConfiguration(limits: limits)
        guard try settings.word(.converterSandbox) != "none" else {
            return MediaConverter(configuration: conversion)
        }
        let megabytes = try settings.wholeNumber(.conversionMemoryMB) ?? 1024
        let converter = SandboxedConverter(configuration: .init(
            conversion: conversion, memoryLimit: megabytes == 0 ? nil : Int64(megabytes) << 20,
            warmChildren: try settings.wholeNumber(.conversionWarmChildren) ?? 1
        ))
        guard converter.childExecutablePath != nil else {
            throw ConfigurationError(
                "\(Setting.converterSandbox.name)=sandbox, but \(SandboxedConverter.childProgramName) is not beside this program: install it with the others, or set \(Setting.converterSandbox.name)=none to convert in process"
            )
        }
        return converter
    }
}

/* SPDX-License-Identifier: MIT */
/*
 * The ids of a battery service's paths (internal to publish/): the fill of
 * every cycle addresses its items by these (busitem.h, "Paths by id"), never
 * by looking a string up. A new path is one line here and one in a table of
 * paths.c. Numbered cells, alarms and /TimeToSoC points are ranges after the
 * named paths.
 */
#ifndef SB_PUBLISH_PATHIDS_H
#define SB_PUBLISH_PATHIDS_H

#include "bms/bms.h"
#include "common/config.h"

#define PUBLISH_PATHS(X)                                                                           \
	X(MGMT_PROCESS_NAME, "/Mgmt/ProcessName")                                                  \
	X(MGMT_PROCESS_VERSION, "/Mgmt/ProcessVersion")                                            \
	X(MGMT_CONNECTION, "/Mgmt/Connection")                                                     \
	X(DEVICE_INSTANCE, "/DeviceInstance")                                                      \
	X(PRODUCT_ID, "/ProductId")                                                                \
	X(PRODUCT_NAME, "/ProductName")                                                            \
	X(FIRMWARE_VERSION, "/FirmwareVersion")                                                    \
	X(HARDWARE_VERSION, "/HardwareVersion")                                                    \
	X(SERIAL, "/Serial")                                                                       \
	X(CONNECTED, "/Connected")                                                                 \
	X(STATE, "/State")                                                                         \
	X(DC_0_VOLTAGE, "/Dc/0/Voltage")                                                           \
	X(DC_0_CURRENT, "/Dc/0/Current")                                                           \
	X(DC_0_POWER, "/Dc/0/Power")                                                               \
	X(DC_0_TEMPERATURE, "/Dc/0/Temperature")                                                   \
	X(SOC, "/Soc")                                                                             \
	X(SOH, "/Soh")                                                                             \
	X(CAPACITY, "/Capacity")                                                                   \
	X(INSTALLED_CAPACITY, "/InstalledCapacity")                                                \
	X(CONSUMED_AMPHOURS, "/ConsumedAmphours")                                                  \
	X(TIME_TO_GO, "/TimeToGo")                                                                 \
	X(INFO_MAX_CHARGE_VOLTAGE, "/Info/MaxChargeVoltage")                                       \
	X(INFO_MAX_CHARGE_CURRENT, "/Info/MaxChargeCurrent")                                       \
	X(INFO_MAX_DISCHARGE_CURRENT, "/Info/MaxDischargeCurrent")                                 \
	X(INFO_BATTERY_LOW_VOLTAGE, "/Info/BatteryLowVoltage")                                     \
	X(INFO_CHARGE_MODE, "/Info/ChargeMode")                                                    \
	X(INFO_CHARGE_LIMITATION, "/Info/ChargeLimitation")                                        \
	X(INFO_DISCHARGE_LIMITATION, "/Info/DischargeLimitation")                                  \
	X(IO_ALLOW_TO_CHARGE, "/Io/AllowToCharge")                                                 \
	X(IO_ALLOW_TO_DISCHARGE, "/Io/AllowToDischarge")                                           \
	X(IO_ALLOW_TO_BALANCE, "/Io/AllowToBalance")                                               \
	X(BALANCING, "/Balancing")                                                                 \
	X(HEATING, "/Heating")                                                                     \
	X(SYSTEM_MIN_CELL_VOLTAGE, "/System/MinCellVoltage")                                       \
	X(SYSTEM_MAX_CELL_VOLTAGE, "/System/MaxCellVoltage")                                       \
	X(SYSTEM_MIN_VOLTAGE_CELL_ID, "/System/MinVoltageCellId")                                  \
	X(SYSTEM_MAX_VOLTAGE_CELL_ID, "/System/MaxVoltageCellId")                                  \
	X(SYSTEM_MIN_CELL_TEMPERATURE, "/System/MinCellTemperature")                               \
	X(SYSTEM_MAX_CELL_TEMPERATURE, "/System/MaxCellTemperature")                               \
	X(SYSTEM_MIN_TEMPERATURE_CELL_ID, "/System/MinTemperatureCellId")                          \
	X(SYSTEM_MAX_TEMPERATURE_CELL_ID, "/System/MaxTemperatureCellId")                          \
	X(SYSTEM_MOSTEMPERATURE, "/System/MOSTemperature")                                         \
	X(SYSTEM_NR_OF_CELLS_PER_BATTERY, "/System/NrOfCellsPerBattery")                           \
	X(SYSTEM_NR_OF_MODULES_ONLINE, "/System/NrOfModulesOnline")                                \
	X(SYSTEM_NR_OF_MODULES_OFFLINE, "/System/NrOfModulesOffline")                              \
	X(SYSTEM_NR_OF_MODULES_BLOCKING_CHARGE, "/System/NrOfModulesBlockingCharge")               \
	X(SYSTEM_NR_OF_MODULES_BLOCKING_DISCHARGE, "/System/NrOfModulesBlockingDischarge")         \
	X(ALARMS_BMS_CABLE, "/Alarms/BmsCable")                                                    \
	X(ERROR_CODE, "/ErrorCode")                                                                \
	X(CONNECTION_INFORMATION, "/ConnectionInformation")                                        \
	X(SETTINGS_HAS_SETTINGS, "/Settings/HasSettings")                                          \
	X(SETTINGS_HAS_TEMPERATURE, "/Settings/HasTemperature")                                    \
	X(DEVICE_NAME, "/DeviceName")                                                              \
	X(SETTINGS_HAS_STARTER_VOLTAGE, "/Settings/HasStarterVoltage")                             \
	X(ALARMS_STATE_OF_HEALTH, "/Alarms/StateOfHealth")                                         \
	X(ALARMS_MID_VOLTAGE, "/Alarms/MidVoltage")                                                \
	X(ALARMS_HIGH_STARTER_VOLTAGE, "/Alarms/HighStarterVoltage")                               \
	X(ALARMS_LOW_STARTER_VOLTAGE, "/Alarms/LowStarterVoltage")                                 \
	X(ALARMS_BATTERY_TEMPERATURE_SENSOR, "/Alarms/BatteryTemperatureSensor")                   \
	X(ALARMS_CONTACTOR, "/Alarms/Contactor")                                                   \
	X(ALARMS_ALARM, "/Alarms/Alarm")                                                           \
	X(DC_1_VOLTAGE, "/Dc/1/Voltage")                                                           \
	X(DC_0_MID_VOLTAGE, "/Dc/0/MidVoltage")                                                    \
	X(DC_0_MID_VOLTAGE_DEVIATION, "/Dc/0/MidVoltageDeviation")                                 \
	X(AIR_TEMPERATURE, "/AirTemperature")                                                      \
	X(BUS_VOLTAGE, "/BusVoltage")                                                              \
	X(INFO_CHARGE_REQUEST, "/Info/ChargeRequest")                                              \
	X(SYSTEM_SWITCH, "/SystemSwitch")                                                          \
	X(IO_EXTERNAL_RELAY, "/Io/ExternalRelay")                                                  \
	X(IO_PROGRAMMABLE_CONTACT, "/Io/ProgrammableContact")                                      \
	X(RELAY_0_STATE, "/Relay/0/State")                                                         \
	X(HISTORY_LOW_STARTER_VOLTAGE_ALARMS, "/History/LowStarterVoltageAlarms")                  \
	X(HISTORY_HIGH_STARTER_VOLTAGE_ALARMS, "/History/HighStarterVoltageAlarms")                \
	X(HISTORY_MINIMUM_STARTER_VOLTAGE, "/History/MinimumStarterVoltage")                       \
	X(HISTORY_MAXIMUM_STARTER_VOLTAGE, "/History/MaximumStarterVoltage")                       \
	X(BMS_HARDWARE_VERSION, "/Bms/HardwareVersion")                                            \
	X(CURRENT_AVG, "/CurrentAvg")                                                              \
	X(IO_ALLOW_TO_HEAT, "/Io/AllowToHeat")                                                     \
	X(INFO_HEATING_CURRENT, "/Info/HeatingCurrent")                                            \
	X(INFO_HEATING_POWER, "/Info/HeatingPower")                                                \
	X(INFO_HEATING_TEMPERATURE_START, "/Info/HeatingTemperatureStart")                         \
	X(INFO_HEATING_TEMPERATURE_STOP, "/Info/HeatingTemperatureStop")                           \
	X(SOC_BMS, "/SocBms")                                                                      \
	X(SYSTEM_TEMPERATURE1, "/System/Temperature1")                                             \
	X(SYSTEM_TEMPERATURE2, "/System/Temperature2")                                             \
	X(SYSTEM_TEMPERATURE3, "/System/Temperature3")                                             \
	X(SYSTEM_TEMPERATURE4, "/System/Temperature4")                                             \
	X(SYSTEM_TEMPERATURE1_NAME, "/System/Temperature1Name")                                    \
	X(SYSTEM_TEMPERATURE2_NAME, "/System/Temperature2Name")                                    \
	X(SYSTEM_TEMPERATURE3_NAME, "/System/Temperature3Name")                                    \
	X(SYSTEM_TEMPERATURE4_NAME, "/System/Temperature4Name")                                    \
	X(VOLTAGES_SUM, "/Voltages/Sum")                                                           \
	X(VOLTAGES_DIFF, "/Voltages/Diff")                                                         \
	X(HISTORY_CHARGE_CYCLES, "/History/ChargeCycles")                                          \
	X(HISTORY_MINIMUM_CELL_VOLTAGE, "/History/MinimumCellVoltage")                             \
	X(HISTORY_MAXIMUM_CELL_VOLTAGE, "/History/MaximumCellVoltage")                             \
	X(HISTORY_MINIMUM_VOLTAGE, "/History/MinimumVoltage")                                      \
	X(HISTORY_MAXIMUM_VOLTAGE, "/History/MaximumVoltage")                                      \
	X(HISTORY_CHARGED_ENERGY, "/History/ChargedEnergy")                                        \
	X(HISTORY_DISCHARGED_ENERGY, "/History/DischargedEnergy")                                  \
	X(HISTORY_TOTAL_AH_DRAWN, "/History/TotalAhDrawn")                                         \
	X(HISTORY_LAST_DISCHARGE, "/History/LastDischarge")                                        \
	X(HISTORY_DEEPEST_DISCHARGE, "/History/DeepestDischarge")                                  \
	X(HISTORY_AVERAGE_DISCHARGE, "/History/AverageDischarge")                                  \
	X(HISTORY_FULL_DISCHARGES, "/History/FullDischarges")                                      \
	X(HISTORY_AUTOMATIC_SYNCS, "/History/AutomaticSyncs")                                      \
	X(HISTORY_TIME_SINCE_LAST_FULL_CHARGE, "/History/TimeSinceLastFullCharge")                 \
	X(HISTORY_MINIMUM_TEMPERATURE, "/History/MinimumTemperature")                              \
	X(HISTORY_MAXIMUM_TEMPERATURE, "/History/MaximumTemperature")                              \
	X(HISTORY_CAN_BE_CLEARED, "/History/CanBeCleared")                                         \
	X(HISTORY_LOW_VOLTAGE_ALARMS, "/History/LowVoltageAlarms")                                 \
	X(HISTORY_HIGH_VOLTAGE_ALARMS, "/History/HighVoltageAlarms")                               \
	X(BMS_PROTECTION_EVENTS_SHORT_CIRCUIT, "/Bms/ProtectionEvents/ShortCircuit")               \
	X(BMS_PROTECTION_EVENTS_CHARGE_OVER_CURRENT, "/Bms/ProtectionEvents/ChargeOverCurrent")    \
	X(BMS_PROTECTION_EVENTS_DISCHARGE_OVER_CURRENT,                                            \
	  "/Bms/ProtectionEvents/DischargeOverCurrent")                                            \
	X(BMS_PROTECTION_EVENTS_CELL_OVER_VOLTAGE, "/Bms/ProtectionEvents/CellOverVoltage")        \
	X(BMS_PROTECTION_EVENTS_CELL_UNDER_VOLTAGE, "/Bms/ProtectionEvents/CellUnderVoltage")      \
	X(BMS_PROTECTION_EVENTS_CHARGE_OVER_TEMPERATURE,                                           \
	  "/Bms/ProtectionEvents/ChargeOverTemperature")                                           \
	X(BMS_PROTECTION_EVENTS_CHARGE_UNDER_TEMPERATURE,                                          \
	  "/Bms/ProtectionEvents/ChargeUnderTemperature")                                          \
	X(BMS_PROTECTION_EVENTS_DISCHARGE_OVER_TEMPERATURE,                                        \
	  "/Bms/ProtectionEvents/DischargeOverTemperature")                                        \
	X(BMS_PROTECTION_EVENTS_DISCHARGE_UNDER_TEMPERATURE,                                       \
	  "/Bms/ProtectionEvents/DischargeUnderTemperature")                                       \
	X(BMS_PROTECTION_EVENTS_PACK_OVER_VOLTAGE, "/Bms/ProtectionEvents/PackOverVoltage")        \
	X(BMS_PROTECTION_EVENTS_PACK_UNDER_VOLTAGE, "/Bms/ProtectionEvents/PackUnderVoltage")      \
	X(LINK_PROTOCOL, "/Link/Protocol")                                                         \
	X(LINK_CHECKSUM_ERRORS, "/Link/ChecksumErrors")                                            \
	X(LINK_TIMEOUTS, "/Link/Timeouts")                                                         \
	X(LINK_POLL_CYCLES, "/Link/PollCycles")                                                    \
	X(LINK_IMPLAUSIBLE_CYCLES, "/Link/ImplausibleCycles")                                      \
	X(LINK_FOREIGN_FRAMES, "/Link/ForeignFrames")                                              \
	X(SYSTEM_NR_OF_BATTERIES, "/System/NrOfBatteries")                                         \
	X(SYSTEM_BATTERIES_PARALLEL, "/System/BatteriesParallel")                                  \
	X(BANK_OFFLINE, "/Bank/Offline")                                                           \
	X(SETTINGS_FORCE_CHARGING_OFF, "/Settings/ForceChargingOff")                               \
	X(SETTINGS_FORCE_DISCHARGING_OFF, "/Settings/ForceDischargingOff")                         \
	X(SETTINGS_TURN_BALANCING_OFF, "/Settings/TurnBalancingOff")                               \
	X(SETTINGS_RESET_SOC_TO, "/Settings/ResetSocTo")                                           \
	X(SETTINGS_RESET_SOC_TO_APPLY, "/Settings/ResetSocToApply")                                \
	X(SETTINGS_LAST_WRITE_ERROR, "/Settings/LastWriteError")                                   \
	X(LINK_WRITES, "/Link/Writes")                                                             \
	X(LINK_WRITE_ERRORS, "/Link/WriteErrors")                                                  \
	X(CUSTOM_NAME, "/CustomName")                                                              \
	X(MODE, "/Mode")                                                                           \
	X(HISTORY_CLEAR, "/History/Clear")                                                         \
	X(BANK_FORGET, "/Bank/Forget")

enum publish_path_id {
	PP_NONE, /* 0: no id */
#define PP_ENUM(n, p) PP_##n,
	PUBLISH_PATHS(PP_ENUM)
#undef PP_ENUM
		PP_CELL_VOLTAGE,                           /* + cell index: /Voltages/Cell<n+1> */
	PP_CELL_BALANCE = PP_CELL_VOLTAGE + BMS_MAX_CELLS, /* + cell index: /Balances/Cell<n+1> */
	PP_ALARM = PP_CELL_BALANCE + BMS_MAX_CELLS,        /* + enum bms_alarm: /Alarms/<name> */
	PP_TIME_TO_SOC = PP_ALARM + BMS_ALARM_COUNT,       /* + index in time_to_soc_points */
	PP_COUNT = PP_TIME_TO_SOC + CFG_LIST_MAX
};

/* The path of a named id (not of a range), NULL for others. */
const char *publish_path_name(unsigned id);

#endif
